import Foundation
import PipelineDSL
import Engine
import Datasets

/// The first-stage training loop of an `encoder` stage with a torchvision ResNet: the authors'
/// ImageNet-LT code (`moco/main.py`; docs/method.md, "ImageNet-LT"), epochs counted from 1.
///
/// Two halves, each with a fresh SGD (momentum buffers cleared) and its own per-epoch cosine
/// `lr · ½(1 + cos(π e / E_half))`, e counted from 0 within the half: KCL for the clustering
/// stage's `warmup_epochs` (the reference: half the epochs), then the SBCL-MoCo loss (`rank` or
/// `ccl`) on the queue, re-clustering before every `every`-th epoch of the second half from the
/// key encoder's projections of one augmented view. Each step: query and key crops of every
/// image, the momentum update, the logits against the queue, the loss, SGD on the query encoder,
/// the keys and their labels enqueued. The last partial batch is dropped (`drop_last=True`).
final class MoCoTraining {
    let context: RunContext
    let images: any ImageSource
    let augmentation: AugmentationStage.Resolved
    let clustering: ClusteringStage.Settings
    /// The second half's loss; nil for the `kcl` variant (KCL in every epoch).
    let mainLoss: MoCoLossKind?
    let model: MoCo
    let optimizer: SGD
    let place: ExecutionPlace
    let kcl: MoCoLoss
    /// The step every batch runs.
    let trainStep: MoCoStep
    let epochs: Int, warmupEpochs: Int, batchSize: Int, checkpointEvery: Int, clusterBatchSize: Int
    /// Batch-norm groups per rank (`batch_norm_groups`).
    let batchNormGroups: Int
    let baseRate: Float
    let architecture: ResNetImageNet.Architecture

    init(context: RunContext) throws {
        self.context = context
        let settings = EncoderStage.Settings(context.parameters)
        let data = try DataArtifact.input(of: context)
        images = data.trainImages.source
        augmentation = try AugmentationStage.pipeline(from: context.input("augmentation"), data: data)
        guard augmentation.pipeline.views == 2 else {
            throw RunError("stage '\(context.stageName)': MoCo needs a query and a key view of every image; set views: 2 in the augmentation stage '\(context.input("augmentation").name)'")
        }
        clustering = ClusteringStage.Settings(context.input("clustering").parameters)
        let losses = ContrastiveLossStage.Losses(context.input("loss").parameters)
        mainLoss = losses.kclThroughout ? nil : try losses.mocoLoss(stage: context.stageName)
        guard let architecture = settings.architecture.imageNet else {
            preconditionFailure("MoCoTraining: a \(settings.architecture.rawValue) encoder is not a MoCo encoder")
        }
        self.architecture = architecture
        epochs = settings.epochs
        warmupEpochs = mainLoss == nil ? epochs : min(clustering.warmupEpochs, epochs)
        batchSize = settings.batchSize
        checkpointEvery = settings.checkpointEvery
        clusterBatchSize = settings.clusterBatchSize
        baseRate = Float(settings.learningRate)
        place = try ExecutionPlace.enter(context, acrossRanksOnDevice: "the MoCo encoder across ranks runs on the CPU only so far (its key "
                                         + "gather and cross-rank shuffle exchange host arrays)")
        guard !place.isDevice else {
            throw RunError("stage '\(context.stageName)': MoCo encoders (\(architecture.rawValue)) train on the CPU for now; run with --device cpu")
        }
        guard batchSize % place.ranks.size == 0 else {
            throw RunError("stage '\(context.stageName)': batch_size \(batchSize) does not split evenly over \(place.ranks.size) ranks; "
                           + "MoCo gathers equal slices of keys from every rank (the reference's per-GPU batch)")
        }
        model = MoCo(architecture, dimension: settings.projectionDimension, queueSize: settings.queueSize,
                     momentum: Float(settings.keyMomentum), seed: UInt32(truncatingIfNeeded: context.seed))
        if let url = settings.initialWeightsURL { context.log(try EncoderInitialWeights.load(url, into: model)) }
        if place.ranks.size > 1 { model.communicator = place.communicator }
        batchNormGroups = settings.batchNormGroups
        let perRank = batchSize / place.ranks.size
        guard perRank % batchNormGroups == 0, perRank / batchNormGroups >= 2 else {
            throw RunError("stage '\(context.stageName)': batch_norm_groups \(batchNormGroups) needs groups of at least 2 of the \(perRank) images "
                           + "each of the \(place.ranks.size) ranks holds (batch_size \(batchSize)); choose batch_norm_groups dividing \(perRank)")
        }
        model.batchNormGroups = batchNormGroups
        optimizer = SGD(parameters: model.queryParameters, learningRate: baseRate, momentum: Float(settings.momentum),
                        weightDecay: Float(settings.weightDecay))
        trainStep = MoCoStep(model: model, optimizer: optimizer, place: place)
        kcl = MoCoLoss(.kcl(draws: settings.kclPositives, temperature: losses.temperature),
                       seed: UInt32(truncatingIfNeeded: context.seed) ^ 0x4B43_4C00, maxThreads: place.threads)
    }

    /// The rate of `epoch` (from 1): the cosine of its half.
    func rate(epoch: Int) -> Float { Self.rate(epoch: epoch, epochs: epochs, warmupEpochs: warmupEpochs, base: baseRate) }

    /// Whether the SBCL half re-clusters before `epoch`.
    func reclusters(atEpoch epoch: Int) -> Bool { Self.reclusters(atEpoch: epoch, warmupEpochs: warmupEpochs, every: clustering.every) }

    func run(stopAfterEpoch: Int?) throws {
        place.activate()
        let seed = UInt64(bitPattern: Int64(context.seed))
        var subclasses: [Int32] = []
        var generator = MT19937(seed: UInt32(truncatingIfNeeded: context.seed))
        var firstEpoch = 1
        let epochEnds = EncoderEpochs(context: context, place: place, epochs: epochs, checkpointEvery: checkpointEvery,
                                      stopAfterEpoch: stopAfterEpoch)
        if context.isResuming,
           let checkpoint = try EncoderCheckpoint.read(from: context.checkpointDirectory, model: model, optimizer: optimizer,
                                                       extras: { try self.restoreExtras($0) }, log: { context.log($0) }) {
            guard checkpoint.subclasses.isEmpty || checkpoint.subclasses.count == images.count else {
                throw RunError("\(EncoderCheckpoint.url(in: context.checkpointDirectory).path): holds \(checkpoint.subclasses.count) subclass labels "
                               + "for \(images.count) images; delete it to start over")
            }
            try epochEnds.checkRanks(of: checkpoint)
            firstEpoch = checkpoint.epoch + 1
            subclasses = checkpoint.subclasses
            generator = checkpoint.generator
            context.log("resuming after epoch \(checkpoint.epoch) (loss \(EncoderTraining.format(checkpoint.lastLoss)))")
        }
        let sampler = Sampler(kind: .instance, labels: images.labels, classCount: images.classCount, seed: seed)
        let loader = try BatchLoader(source: images, pipeline: augmentation.pipeline, sampler: sampler, batchSize: batchSize, dropLast: true,
                                     seed: seed, threads: place.threads, start: LoaderPosition(epoch: firstEpoch, step: 0),
                                     shard: (place.ranks.rank, place.ranks.size))
        let steps = loader.stepsPerEpoch
        guard steps > 0 else {
            throw RunError("stage '\(context.stageName)': \(images.count) training images make no full batch of \(batchSize) (MoCo drops the last partial batch); lower batch_size")
        }
        let main = mainLoss.map { MoCoLoss($0, maxThreads: place.threads) } ?? kcl
        if firstEpoch == 1 {
            context.log("training MoCo v2 \(architecture.rawValue) (\(model.encoderQuery.parameterCount) parameters per encoder, queue \(model.queueSize)) "
                        + "on \(images.count) images of \(images.classCount) classes, \(augmentation.size)×\(augmentation.size) crops, batch \(batchSize), "
                        + "\(steps) steps per epoch, \(epochs) epochs " + (mainLoss == nil ? "(KCL throughout)" : "(KCL for \(warmupEpochs), then SBCL)"))
        }
        if place.ranks.size > 1 {
            context.log("data-parallel over \(place.ranks.size) ranks: \(batchSize / place.ranks.size) images each per step, keys gathered into "
                        + "the queue, shuffle BN for the key encoder, per-rank batch norm (as DistributedDataParallel)")
        }
        if batchNormGroups > 1 {
            context.log("batch norm in \(batchNormGroups) groups of \(batchSize / place.ranks.size / batchNormGroups) images per "
                        + (place.ranks.size > 1 ? "rank" : "step, key crops permuted across the groups (shuffle BN on one process)")
                        + "; running statistics from group 0")
        }
        var epoch = firstEpoch
        while epoch <= epochs {
            let started = Date()
            let inWarmup = epoch <= warmupEpochs
            // A fresh optimiser for the second half, as the reference builds a new SGD.
            if Self.startsFreshOptimizer(atEpoch: epoch, warmupEpochs: warmupEpochs) { optimizer.momentumBuffers = [:] }
            if reclusters(atEpoch: epoch) {
                subclasses = try recluster(epoch: epoch, seed: seed, generator: &generator)
            }
            let loss = inWarmup ? kcl : main
            let rate = self.rate(epoch: epoch)
            optimizer.learningRate = rate
            var total = 0.0, seen = 0
            for step in 0..<steps {
                let batch = try loader.next()
                precondition(batch.position == LoaderPosition(epoch: epoch, step: step),
                             "MoCoTraining: loader at \(batch.position), training at epoch \(epoch) step \(step)")
                let scalar = try self.step(batch, loss: loss, subclasses: inWarmup ? [] : subclasses)
                guard scalar.isFinite else { throw epochEnds.divergence(scalar, epoch: epoch, step: step) }
                total += Double(scalar) * Double(batch.batchSize)
                seen += batch.batchSize
                context.progress.update(step: (epoch - 1) * steps + step + 1, total: epochs * steps,
                                        message: "epoch \(epoch) loss \(String(format: "%.4f", scalar))")
            }
            let seconds = Date().timeIntervalSince(started)
            let meanLoss = total / Double(max(seen, 1))
            try epochEnds.finish(epoch: epoch, meanLoss: meanLoss, rate: rate, seconds: seconds, images: seen,
                                 note: inWarmup ? "  (KCL)" : "", phase: inWarmup ? "kcl" : "main",
                                 model: model, optimizer: optimizer, subclasses: subclasses, classTemperatures: [], generator: generator) {
                try $0.write(model: model, optimizer: optimizer, extras: extras(), to: context.checkpointDirectory)
            }
            epoch += 1
        }
        let artifact = EncoderArtifact(architecture: architecture.rawValue, projectionDimension: model.dimension,
                                       mean: augmentation.mean.map { Float($0) }, std: augmentation.std.map { Float($0) },
                                       imageSize: augmentation.size)
        try artifact.write(moco: model, to: context.outputDirectory)
    }

    /// One step of `batch` (two views of this rank's rows, view-major) through `MoCoStep`; returns
    /// the global batch's loss. KCL's draws are made for the whole batch on every rank (the same
    /// generator everywhere), and each rank takes its rows': N ranks draw what one process draws.
    func step(_ batch: Batch, loss: MoCoLoss, subclasses: [Int32]) throws -> Float {
        let rows = batch.rows, b = rows.count
        let views = Tensor(batch.images, shape: batch.shape)
        let labels = Array(batch.labels[rows])
        let mine = subclasses.isEmpty ? [Int32](repeating: -1, count: b) : batch.indices[rows].map { subclasses[$0] }
        var uniforms: [Float]? = nil
        if case let .kcl(draws, _) = loss.kind {
            let all = MoCoLoss.uniforms(draws * batch.batchSize, from: &loss.generator)
            uniforms = (0..<draws).flatMap { d in rows.map { all[d * batch.batchSize + $0] } }
        }
        // Shuffle BN, across ranks or (with batch-norm groups) on one process: the permutation of
        // the global batch follows from the seed and the step, so a resumed run draws the same ones.
        let ranks = place.ranks.size
        let permutation = ranks > 1 || batchNormGroups > 1
            ? MoCo.keyPermutation(count: b * ranks, seed: UInt64(bitPattern: Int64(context.seed)), epoch: batch.position.epoch, step: batch.position.step)
            : nil
        return trainStep(query: views.sliced(axis: 0, 0..<b), key: views.sliced(axis: 0, b..<(2 * b)), labels: labels, subclasses: mine,
                         loss: loss, globalBatch: batch.batchSize, uniforms: uniforms, keyPermutation: permutation)
    }

    /// Re-clusters before `epoch`: the key encoder's projections of one augmented view of every
    /// image (eval mode, as `cluster()` in moco/main.py), k-means per class (grouped by label —
    /// the reference splits by class counts, right only for a class-sorted split file).
    private func recluster(epoch: Int, seed: UInt64, generator: inout MT19937) throws -> [Int32] {
        let started = Date()
        let (projections, dimension) = try Reclustering.embed(images: images, pipeline: augmentation.pipeline,
                                                              seed: seed ^ EncoderTraining.clusterViewSalt, epoch: epoch,
                                                              batchSize: clusterBatchSize, place: place, dimension: model.dimension) {
            self.model.keyProjections($0, training: false)
        }
        let embedded = Date()
        let result = try Reclustering.cluster(projections: projections, dimension: dimension, labels: images.labels,
                                              classCount: images.classCount, settings: clustering, temperature: 0.07, generator: &generator)
        let k = result.clusterCounts
        context.log("epoch \(epoch): re-clustered \(k.count) classes into \(k.reduce(0, +)) subclasses (k_c \(k.min()!)–\(k.max()!)) "
                    + "from the key encoder, embedding \(String(format: "%.1f", embedded.timeIntervalSince(started))) s, "
                    + "k-means \(String(format: "%.1f", Date().timeIntervalSince(embedded))) s")
        context.recordReclustering(epoch, result: result)
        return result.subclasses
    }

    /// The queue and KCL's generator, which the model's state does not hold.
    private func extras() -> [(name: String, array: HostArray)] {
        let queue = model.queueArrays()
        let words = kcl.generator.state.map { Int64($0) } + [Int64(kcl.generator.index)]
        return queue + [(name: "kcl_generator", array: HostArray(int64s: words, shape: [words.count]))]
    }

    private func restoreExtras(_ file: SafeTensorsFile) throws {
        let queue = try file.array(named: "extra.queue")
        let subclass = try file.array(named: "extra.queue_l").int64s(), classes = try file.array(named: "extra.queue_t").int64s()
        let pointer = try file.array(named: "extra.queue_ptr").int64s()
        guard queue.shape == [model.dimension, model.queueSize], subclass.count == model.queueSize, classes.count == model.queueSize,
              let p = pointer.first, (0..<Int64(model.queueSize)).contains(p) else {
            throw RunError("\(file.path): the MoCo queue does not fit this stage's queue_size \(model.queueSize)")
        }
        model.setQueue(Tensor(queue.floats(), shape: queue.shape), subclass: subclass, class: classes, pointer: Int(p))
        let words = try file.array(named: "extra.kcl_generator").int64s()
        guard let last = words.last, let generator = MT19937(state: words.dropLast().map { UInt32(truncatingIfNeeded: $0) }, index: Int(last)) else {
            throw RunError("\(file.path): the KCL generator state is damaged")
        }
        kcl.generator = generator
    }
}
