import Foundation
import Engine
import Datasets
import PipelineDSL

/// The `classifier` stage kind: the second stage of SBCL (`linear_classify.py`), a classifier
/// trained on the frozen encoder's 64-d features.
///
/// Inputs: `encoder` (an `encoder` stage) and `data` (a `dataset` or `imbalance` stage; its
/// training split is used). With `augment: true` every step embeds freshly augmented views
/// (RandomCrop with padding 4, flip, normalise), as the reference does; with `augment: false`
/// the un-augmented training set is embedded once and the head trains on those cached features
/// (much faster; what the Fashion-MNIST recipe uses). Checkpoints after every epoch.
///
/// `epoch_length: dataset` stops each epoch after ⌊N / B⌋ steps with the class-aware stream
/// continuing across epochs, and `backbone_batch_norm: train` embeds with batch statistics and
/// re-estimates the backbone's running statistics (into the artifact): `moco/linear_classify.py`'s
/// rules (docs/imagenet_lt.md). One process normalises over the whole batch; N ranks each over
/// their slice (the reference's DataParallel splits its batch over 8 GPUs), rank 0's running
/// statistics being the artifact's. `test_curve: true` scores the head on the test split after
/// every epoch (the reference's per-epoch test) and records it with the epoch; the run's figure
/// stays the evaluation stage's, the last epoch's.
public enum ClassifierStage {
    /// The registered kind.
    public static let kind = StageKind(
        // Version 2: image files embedded through the fixed views are decoded at full size (FrozenEncoder.embed).
        name: "classifier", version: 2,
        summary: "second stage: a classifier on the frozen encoder's features (ldam_drw, cb, ce)",
        settings: ClassifierConfiguration.self,
        inputs: [.one("encoder", of: "encoder"), InputSlot(name: "data", kinds: DataArtifact.kinds)],
        // In eval mode the frozen encoder has no batch statistics and the head no batch norm, so N
        // ranks compute the single-process result up to rounding: N never enters the hash, and a
        // checkpoint resumes on any number of ranks. With `backbone_batch_norm: train` each rank
        // normalises its own slice, so N enters the hash.
        dataParallel: DataParallelism { (settings: ClassifierConfiguration) in settings.backboneBatchNorm == .train },
        memoryEstimate: { try StageMemory.classifier($0) },
        inapplicableParameters: { ClassifierConfiguration.inapplicable($0) },
        run: run)

    static func run(_ context: RunContext) throws {
        let place = try ExecutionPlace.enter(context)
        var configuration = ClassifierConfiguration(context.parameters)
        let augment = configuration.augment
        let (encoderArtifact, encoder) = try FrozenEncoder.input(of: context)
        if case .torchvision = encoder { configuration.linearStd = 0.01 }
        // The frozen encoder embeds on the place's device, and the head trains there.
        place.adopt(encoder.module)
        let data = try DataArtifact.input(of: context)
        let images = data.trainImages, source = images.source
        try encoder.checkCompatible(images, with: encoderArtifact, stage: context.stageName)
        let classCounts = data.classCounts, classNames = images.classNames
        if let empty = classCounts.firstIndex(of: 0) {
            throw RunError("stage '\(context.stageName)': class \(empty) ('\(classNames[empty])') has no training images; LDAM and the samplers need every class")
        }
        let seed = UInt32(truncatingIfNeeded: context.seed)
        let batchStatistics = configuration.backboneBatchNorm == .train
        let trainer = ClassifierTrainer(configuration: configuration, classCounts: classCounts,
                                        featureCount: encoder.featureDimension, seed: seed, place: place)
        if batchStatistics { trainer.backbone = encoder }
        let checkpoint = context.checkpointDirectory.appendingPathComponent("classifier.ckpt.safetensors")
        // Sealed with its digest (`CheckpointFile`): a damaged one is replaced by the previous, or by a start from scratch.
        if context.isResuming, let resumable = CheckpointFile.resumable(checkpoint, log: { context.log($0) }) {
            try trainer.loadCheckpoint(from: resumable)
            context.log("resuming after epoch \(trainer.completedEpochs)")
        }
        context.log("\(configuration.method.rawValue): \(configuration.form.rawValue) head on \(encoder.featureDimension)-d features, \(source.count) images, \(classCounts.count) classes, \(configuration.epochs) epochs, augment \(augment), epoch length \(configuration.epochLength.rawValue), backbone batch norm \(configuration.backboneBatchNorm.rawValue)")

        // Batches: cached features, or freshly augmented views through the frozen encoder.
        if configuration.epochLength == .dataset && configuration.stepsPerEpoch(trainingImages: source.count) == 0 {
            throw RunError("stage '\(context.stageName)': epoch_length: dataset takes floor(\(source.count) training images / batch_size \(configuration.batchSize)) = 0 steps per epoch; lower batch_size or set epoch_length: pass")
        }
        let sampler = Sampler(kind: configuration.samplerKind, labels: source.labels, classCount: classNames.count,
                              seed: UInt64(context.seed), perVisit: configuration.perVisit,
                              epochLength: configuration.samplerEpochLength(trainingImages: source.count))
        var stepsPerEpoch: (Int) -> Int
        var batchAt: (Int, Int) throws -> (Tensor, [Int32])
        if augment {
            let pipeline = try AugmentationPipeline(steps: encoder.trainingSteps(encoderArtifact, images: images))
            let loader = try BatchLoader(source: source, pipeline: pipeline, sampler: sampler, batchSize: configuration.batchSize,
                                         seed: UInt64(context.seed), threads: place.threads, shard: (place.ranks.rank, place.ranks.size))
            try place.checkDivisible(samples: loader.samplesPerEpoch, batchSize: configuration.batchSize, dropLast: false,
                                     stage: context.stageName)
            stepsPerEpoch = { _ in loader.stepsPerEpoch }
            batchAt = { epoch, step in
                if step == 0 { loader.seek(to: LoaderPosition(epoch: epoch, step: 0)) }
                let batch = try loader.next()
                if batchStatistics && (batch.shard?.count ?? batch.batchSize) < 2 {
                    throw RunError("stage '\(context.stageName)': backbone_batch_norm: train needs at least 2 images per batch on each rank, but step \(step + 1) of epoch \(epoch + 1) has \(batch.shard?.count ?? batch.batchSize); change batch_size or set epoch_length: dataset (full batches only)")
                }
                let features = encoder.features(place.input(batch.images, shape: batch.shape), batchStatistics: batchStatistics)
                return (features.moved(to: CPUBackend.shared), batch.labels)
            }
        } else {
            let started = Date()
            let features = try encoder.embed(source, steps: encoder.evaluationSteps(encoderArtifact, images: images), threads: place.threads,
                                             place: place) { done, total in
                context.progress.update(step: done, total: total, message: "embedding the training set")
            }
            context.log(String(format: "embedded %d training images in %.1f s", source.count, Date().timeIntervalSince(started)))
            let rows = features.scalars, width = features.shape[1], labels = source.labels
            var cachedOrder: (epoch: Int, order: [Int])?
            func order(_ epoch: Int) -> [Int] {
                if let cachedOrder, cachedOrder.epoch == epoch { return cachedOrder.order }
                let order = sampler.order(epoch: epoch)
                cachedOrder = (epoch, order)
                return order
            }
            let batchSize = configuration.batchSize
            try place.checkDivisible(samples: order(0).count, batchSize: batchSize, dropLast: false, stage: context.stageName)
            stepsPerEpoch = { epoch in (order(epoch).count + batchSize - 1) / batchSize }
            batchAt = { epoch, step in
                let all = order(epoch)
                let indices = all[(step * batchSize)..<min(all.count, (step + 1) * batchSize)]
                // This rank's slice of the batch's features; the labels are the whole batch's.
                let own = indices.dropFirst(place.ranks.slice(of: indices.count).lowerBound).prefix(place.ranks.slice(of: indices.count).count)
                var values = [Float](); values.reserveCapacity(own.count * width)
                for i in own { values += rows[(i * width)..<((i + 1) * width)] }
                return (Tensor(values, shape: [own.count, width]), indices.map { labels[$0] })
            }
        }

        // `test_curve: true`: after every epoch the head is scored on the test split exactly as the
        // evaluation stage would score it then (eval-mode views; with batch statistics, the running
        // statistics re-estimated so far, so the test set is re-embedded; otherwise embedded once).
        // Only the writer records, so only it scores.
        let scoresTest = configuration.testCurve && context.isWriter
        let test = scoresTest ? data.testImages : nil
        if let test {
            try encoder.checkCompatible(test, with: encoderArtifact, stage: context.stageName)
            guard test.source.count > 0 else { throw RunError("stage '\(context.stageName)': test_curve: true but the test split is empty; set test_curve: false") }
            guard test.source.classCount == classCounts.count else {
                throw RunError("stage '\(context.stageName)': test_curve: true but the test split has \(test.source.classCount) classes and the training split \(classCounts.count)")
            }
        }
        var testFeatures: Tensor?
        func testMetrics() throws -> EvaluationMetrics? {
            guard let test else { return nil }
            if testFeatures == nil || batchStatistics {
                testFeatures = try encoder.embed(test.source, steps: encoder.evaluationSteps(encoderArtifact, images: test),
                                                 threads: place.threads, place: place) { done, total in
                    context.progress.update(step: done, total: total, message: "embedding the test set")
                }
            }
            let logits = withoutGradients { trainer.head.logits(testFeatures!.moved(to: place.backend)) }.scalars
            return EvaluationMetrics(logits: logits, labels: test.source.labels, classCounts: classCounts)
        }

        let logEvery = augment ? 1 : max(1, configuration.epochs / 20)
        while trainer.completedEpochs < configuration.epochs {
            let epochIndex = trainer.completedEpochs  // 0-based sampler epoch
            let started = Date()
            let steps = stepsPerEpoch(epochIndex)
            let last = try trainer.trainEpoch(steps: steps) { step in try batchAt(epochIndex, step) }
            guard last.loss.isFinite else {
                throw RunError("stage '\(context.stageName)': the classifier loss became \(last.loss) in epoch \(trainer.completedEpochs); lower learning_rate")
            }
            try place.verifyIdentical(trainer.head, optimizer: trainer.optimizer, after: trainer.completedEpochs, stage: context.stageName)
            if context.isWriter { try CheckpointFile.write(to: checkpoint) { try trainer.saveCheckpoint(to: $0) } }
            let epoch = trainer.completedEpochs
            let seconds = Date().timeIntervalSince(started)
            let tested = try testMetrics()
            let line = String(format: "epoch %d/%d loss %.4f train acc %.2f%% lr %.5f time %.2f s", epoch, configuration.epochs,
                              last.loss, last.accuracy, last.learningRate, seconds)
                + (tested.map { String(format: " test top-1 %.2f%%", $0.top1) } ?? "")
            context.progress.update(step: epoch, total: configuration.epochs, message: String(format: "loss %.4f", last.loss))
            if epoch % logEvery == 0 || epoch == configuration.epochs { context.log(line) }
            context.recordClassifierEpoch(epoch, loss: last.loss, accuracy: last.accuracy, learningRate: last.learningRate,
                                          seconds: seconds, test: tested)
        }
        let artifact = ClassifierArtifact(method: configuration.method.rawValue, form: configuration.form.rawValue,
                                          featureCount: trainer.head.featureCount, classCount: trainer.head.classCount,
                                          epochs: configuration.epochs, finalLoss: trainer.lastLoss, finalTrainAccuracy: trainer.lastAccuracy,
                                          classCounts: classCounts, backboneBatchNorm: batchStatistics ? BackboneBatchNorm.train.rawValue : nil)
        try artifact.write(head: trainer.head, backbone: encoder, to: context.outputDirectory)
    }
}
