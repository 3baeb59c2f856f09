import Foundation
import PipelineDSL
import Engine
import Datasets

/// The first-stage training loop of one `encoder` stage run (the reference's `main_worker` and
/// `train` in SimCLR/main.py, epochs counted from 1).
///
/// Per epoch: re-cluster when the schedule says so, then one pass over the shuffled training set
/// in batches of two views (one forward of 2B views, the fused contrastive loss, SGD), then a
/// checkpoint when due. A NaN or infinite loss stops the run before the step is applied.
final class EncoderTraining {
    let context: RunContext
    let data: DataArtifact
    let augmentation: AugmentationStage.Resolved
    let clustering: ClusteringStage.Settings
    let losses: ContrastiveLossStage.Losses
    let model: SupConResNet
    let optimizer: SGD
    /// Where the stage runs (device, ranks, threads): every loop below asks it.
    let place: ExecutionPlace
    /// The step every batch runs (forward, loss, backward, SGD).
    let trainStep: EncoderStep
    let schedule: LearningRateSchedule
    let epochs: Int, batchSize: Int, checkpointEvery: Int, clusterBatchSize: Int
    /// Whether each epoch's last partial batch is dropped.
    let dropLast: Bool
    let depth: Int, projectionDimension: Int

    /// The seed of the re-clustering views, apart from the training views'.
    static let clusterViewSalt: UInt64 = 0x9E37_79B9_7F4A_7C15

    init(context: RunContext) throws {
        self.context = context
        let settings = EncoderStage.Settings(context.parameters)
        data = try DataArtifact.input(of: context)
        try data.requireInMemory(stage: context.stageName, what: "the CIFAR ResNet encoder (architecture resnet_cifar)")
        augmentation = try AugmentationStage.pipeline(from: context.input("augmentation"), data: data)
        guard augmentation.pipeline.views == 2 else {
            throw RunError("stage '\(context.stageName)': contrastive training needs two views per image; set views: 2 in the augmentation stage '\(context.input("augmentation").name)'")
        }
        clustering = ClusteringStage.Settings(context.input("clustering").parameters)
        losses = ContrastiveLossStage.Losses(context.input("loss").parameters)
        depth = settings.depth
        projectionDimension = settings.projectionDimension
        epochs = settings.epochs
        batchSize = settings.batchSize
        checkpointEvery = settings.checkpointEvery
        clusterBatchSize = settings.clusterBatchSize
        dropLast = settings.dropLast
        // The contrastive stages keep the reference's 64 → 10 classifier layer (unused, but in its
        // checkpoints); the cross-entropy baseline trains that layer, so it gets one output per class.
        model = SupConResNet(depth: depth, inputChannels: data.train.channels, projectionDimension: projectionDimension,
                             classCount: losses.objective == .crossEntropy ? data.train.classCount : 10,
                             seed: UInt32(truncatingIfNeeded: context.seed))
        if let url = settings.initialWeightsURL { context.log(try EncoderInitialWeights.load(url, into: model)) }
        optimizer = SGD(parameters: model.namedParameters, learningRate: Float(settings.learningRate),
                        momentum: Float(settings.momentum), weightDecay: Float(settings.weightDecay))
        place = try ExecutionPlace.enter(context, synchronizesBatchNorm: settings.synchronizesBatchNorm)
        trainStep = EncoderStep(model: model, optimizer: optimizer, place: place, batchNormGroups: settings.batchNormGroups)
        let warm: Bool
        switch settings.warmup {
        case .on: warm = true
        case .off: warm = false
        case .auto: warm = batchSize > 256
        }
        schedule = .supConCosine(base: Float(settings.learningRate), epochs: epochs, decayRate: Float(settings.learningRateDecay),
                                 warmupEpochs: warm ? 10 : 0, warmupFrom: 0.01)
    }

    func run(stopAfterEpoch: Int?) throws {
        place.activate()
        let seed = UInt64(bitPattern: Int64(context.seed))
        let train = data.train
        var subclasses: [Int32] = []
        var temperatures: [Float] = []
        var generator = MT19937(seed: UInt32(truncatingIfNeeded: context.seed))
        var firstEpoch = 1
        let epochEnds = EncoderEpochs(context: context, place: place, epochs: epochs, checkpointEvery: checkpointEvery,
                                      stopAfterEpoch: stopAfterEpoch)
        if context.isResuming,
           let checkpoint = try EncoderCheckpoint.read(from: context.checkpointDirectory, model: model, optimizer: optimizer,
                                                       log: { context.log($0) }) {
            try epochEnds.checkRanks(of: checkpoint)
            guard checkpoint.subclasses.isEmpty
                    || (checkpoint.subclasses.count == train.count && checkpoint.classTemperatures.count == train.classCount) else {
                throw RunError("\(EncoderCheckpoint.url(in: context.checkpointDirectory).path): holds \(checkpoint.subclasses.count) subclass labels "
                               + "and \(checkpoint.classTemperatures.count) temperatures for \(train.count) images of \(train.classCount) classes; delete it to start over")
            }
            firstEpoch = checkpoint.epoch + 1
            subclasses = checkpoint.subclasses
            temperatures = checkpoint.classTemperatures
            generator = checkpoint.generator
            context.log("resuming after epoch \(checkpoint.epoch) (loss \(Self.format(checkpoint.lastLoss)))")
        }
        // Weights (initial or resumed) are loaded on the CPU; the training runs where the place is.
        place.adopt(model)
        try place.checkDivisible(samples: train.count, batchSize: batchSize, dropLast: dropLast, stage: context.stageName)
        try checkBatchNormGroups(samples: train.count)
        let sampler = Sampler(kind: .instance, labels: train.labels, classCount: train.classCount, seed: seed)
        let loader = try BatchLoader(source: train, pipeline: augmentation.pipeline, sampler: sampler, batchSize: batchSize, dropLast: dropLast,
                                     seed: seed, threads: place.threads, start: LoaderPosition(epoch: firstEpoch, step: 0),
                                     shard: (place.ranks.rank, place.ranks.size))
        let steps = loader.stepsPerEpoch
        let warmupLoss = ContrastiveLoss(losses.warmup, maxThreads: place.threads)
        let mainLoss = ContrastiveLoss(losses.main, maxThreads: place.threads)
        if firstEpoch == 1 {
            context.log("training ResNet-\(depth) (\(model.parameterCount) parameters) on \(train.count) images of \(train.classCount) classes, "
                        + "\(augmentation.size)×\(augmentation.size)×\(train.channels) views, batch \(batchSize), \(steps) steps per epoch, \(epochs) epochs")
        }
        if trainStep.batchNormGroups > 1 {
            context.log("batch norm in \(trainStep.batchNormGroups) groups of the \(augmentation.pipeline.views) views' rows"
                        + (place.ranks.size > 1 ? " of each rank" : "") + " (running statistics from group 0)")
        }
        if place.ranks.size > 1 {
            let slices = (0..<place.ranks.size).map { rankSlice(of: batchSize, rank: $0, size: place.ranks.size).count }
            context.log("data-parallel over \(place.ranks.size) ranks (\(place.synchronizesBatchNorm ? "synchronised" : "per-rank") batch norm): "
                        + "slices of \(Set(slices).sorted().map(String.init).joined(separator: " or ")) images of each global batch of \(batchSize)")
        }
        var epoch = firstEpoch
        while epoch <= epochs {
            let started = Date()
            if losses.needsSubclasses && clustering.reclusters(atEpoch: epoch) {
                let result = try recluster(epoch: epoch, seed: seed, generator: &generator)
                subclasses = result.subclasses
                temperatures = result.classTemperatures
            }
            let crossEntropy = losses.objective == .crossEntropy
            let inWarmup = !crossEntropy && (clustering.isWarmup(epoch: epoch) || (losses.needsSubclasses && subclasses.isEmpty))
            let objective: EncoderStep.Objective = crossEntropy
                ? .crossEntropy
                : .contrastive(inWarmup ? warmupLoss : mainLoss, subclasses: subclasses, temperatures: temperatures)
            var total = 0.0, images = 0
            var rate: Float = 0
            // Each step's images are put on the place while the step before computes (on a device,
            // a transfer queue beside the kernels; on the CPU nothing to do).
            var next = steps > 0 ? place.prepare(try loader.next()) : nil
            for step in 0..<steps {
                let prepared = next!
                let batch = prepared.batch
                precondition(batch.position == LoaderPosition(epoch: epoch, step: step),
                             "EncoderTraining: loader at \(batch.position), training at epoch \(epoch) step \(step)")
                let input = prepared.images
                next = step + 1 < steps ? place.prepare(try loader.next()) : nil
                rate = schedule.rate(epoch: epoch, step: step, stepsPerEpoch: steps)
                let scalar = trainStep(batch, input: input, rate: rate, objective: objective)
                // A device error (out of memory) stops here, naming the stage: reading the loss
                // already waited for the step, so this costs nothing more.
                try place.check(stage: context.stageName)
                guard scalar.isFinite else { throw epochEnds.divergence(scalar, epoch: epoch, step: step) }
                total += Double(scalar) * Double(batch.batchSize)
                images += batch.batchSize
                context.progress.update(step: (epoch - 1) * steps + step + 1, total: epochs * steps,
                                        message: "epoch \(epoch) loss \(String(format: "%.4f", scalar))")
            }
            let seconds = Date().timeIntervalSince(started)
            let meanLoss = total / Double(max(images, 1))
            try epochEnds.finish(epoch: epoch, meanLoss: meanLoss, rate: rate, seconds: seconds, images: images,
                                 note: inWarmup ? "  (SupCon warm-up)" : crossEntropy ? "  (cross-entropy)" : "",
                                 phase: inWarmup ? "supcon_warmup" : crossEntropy ? "cross_entropy" : "main",
                                 model: model, optimizer: optimizer, subclasses: subclasses, classTemperatures: temperatures,
                                 generator: generator) { try $0.write(model: model, optimizer: optimizer, to: context.checkpointDirectory) }
            epoch += 1
        }
        let artifact = EncoderArtifact(depth: depth, inputChannels: train.channels, projectionDimension: projectionDimension,
                                       mean: augmentation.mean.map { Float($0) }, std: augmentation.std.map { Float($0) },
                                       imageSize: augmentation.size)
        try artifact.write(model: model, to: context.outputDirectory)
    }

    /// Checks that every step's rows on every rank — two views of its images, the last partial
    /// batch's too when it is kept — split into `batch_norm_groups` groups of at least 2 rows.
    private func checkBatchNormGroups(samples: Int) throws {
        let groups = trainStep.batchNormGroups, views = augmentation.pipeline.views
        guard groups > 1 else { return }
        let last = samples % batchSize
        for images in [batchSize] + (dropLast || last == 0 ? [] : [last]) {
            for rank in 0..<place.ranks.size {
                let rows = views * rankSlice(of: images, rank: rank, size: place.ranks.size).count
                guard rows % groups != 0 || rows / groups < 2 else { continue }
                let which = images == batchSize ? "a batch of \(images) images" : "the last partial batch of \(images) images"
                throw RunError("stage '\(context.stageName)': batch_norm_groups \(groups) does not split the \(rows) rows (\(views) views) of "
                               + "\(which)\(place.ranks.size > 1 ? " on rank \(rank) of \(place.ranks.size)" : "") into groups of at least 2; "
                               + "choose batch_norm_groups dividing \(rows)\(images == batchSize ? "" : ", or set drop_last: true")")
            }
        }
    }

    /// Re-clusters at the start of `epoch` and logs the event.
    private func recluster(epoch: Int, seed: UInt64, generator: inout MT19937) throws -> Reclustering.Result {
        let started = Date()
        let (projections, dimension) = try Reclustering.embed(model: model, images: data.train, pipeline: augmentation.pipeline,
                                                              seed: seed ^ Self.clusterViewSalt, epoch: epoch,
                                                              batchSize: clusterBatchSize, place: place)
        let embedded = Date()
        let result = try Reclustering.cluster(projections: projections, dimension: dimension, labels: data.train.labels,
                                              classCount: data.train.classCount, settings: clustering,
                                              temperature: losses.temperature, generator: &generator)
        let k = result.clusterCounts, t = result.classTemperatures
        context.log("epoch \(epoch): re-clustered \(k.count) classes into \(k.reduce(0, +)) subclasses (k_c \(k.min()!)–\(k.max()!)), "
                    + "class temperatures \(String(format: "%.4f", t.min()!))–\(String(format: "%.4f", t.max()!)), "
                    + "embedding \(String(format: "%.1f", embedded.timeIntervalSince(started))) s, "
                    + "k-means \(String(format: "%.1f", Date().timeIntervalSince(embedded))) s")
        context.recordReclustering(epoch, result: result)
        return result
    }

    static func format(_ value: Double) -> String { String(format: "%.5f", value) }
}
