import Foundation
import Engine
import Datasets
import PipelineDSL

/// The `evaluation` stage kind: the trained encoder and classifier on the balanced test split.
///
/// Inputs: `classifier`, `encoder` and `data` (`dataset` or `imbalance`). Embeds the test images
/// in eval mode (normalised, no augmentation; with the running statistics the classifier's
/// `backbone_batch_norm: train` re-estimated, when it did), scores them with the classifier, records
/// `top1`, `top5`, `many`, `medium`, `few`, `per_class`, `class_counts`, `test_counts`,
/// `confusion` and `class_names` as the run's metrics (accuracies in %), and writes them to `metrics.json` in its artifact.
public enum EvaluationStage {
    /// The artifact's file.
    public static let metricsFile = "metrics.json"

    /// The settings of an `evaluation` stage: the shot-group bounds of the paper.
    public struct Settings: StageSettings, Equatable {
        /// Classes with more training images than this are many-shot.
        public var manyShotAbove = 0
        /// Classes with fewer training images than this are few-shot.
        public var fewShotBelow = 0
        /// Test images embedded at a time.
        public var batchSize = 0

        public static let unset = Settings()

        public static let fields: [SettingsField<Settings>] = [
            .int("many_shot_above", \.manyShotAbove, default: 100, range: RecipeLimits.upTo(RecipeLimits.perClass),
                 doc: "classes with more training images than this are many-shot"),
            .int("few_shot_below", \.fewShotBelow, default: 20, range: RecipeLimits.upTo(RecipeLimits.perClass, from: 1),
                 doc: "classes with fewer training images than this are few-shot; the rest are medium-shot"),
            .int("batch_size", \.batchSize, default: 256, range: .closed(1, 65_536), doc: "test images embedded at a time"),
        ]

        public func validate() throws {
            guard fewShotBelow <= manyShotAbove + 1 else {
                throw RunError("few_shot_below (\(fewShotBelow)) must not exceed many_shot_above + 1 (\(manyShotAbove + 1))")
            }
        }
    }

    /// The registered kind.
    public static let kind = StageKind(
        // Version 2: image files embedded through the fixed views are decoded at full size (FrozenEncoder.embed).
        name: "evaluation", version: 2,
        summary: "top-1/top-5, per-class, many/medium/few accuracy and the confusion matrix on the test split",
        settings: Settings.self,
        inputs: [.one("classifier", of: "classifier"), .one("encoder", of: "encoder"),
                 InputSlot(name: "data", kinds: DataArtifact.kinds)],
        usesSeed: false,
        run: run)

    static func run(_ context: RunContext) throws {
        let place = try ExecutionPlace.enter(context)
        let settings = Settings(context.parameters)
        let manyAbove = settings.manyShotAbove, fewBelow = settings.fewShotBelow
        let classifierDirectory = try ClassifierArtifact.inputDirectory(of: context)
        let (classifier, head) = try ClassifierArtifact.read(from: classifierDirectory)
        let (encoderArtifact, encoder) = try FrozenEncoder.input(of: context)
        // A head trained on batch statistics is scored with the running statistics re-estimated then.
        try classifier.adoptBackboneStatistics(from: classifierDirectory, into: encoder)
        place.adopt(encoder.module)
        let data = try DataArtifact.input(of: context)
        let test = data.testImages.source
        try encoder.checkCompatible(data.testImages, with: encoderArtifact, stage: context.stageName)
        let classCount = data.trainImages.classNames.count
        guard test.classCount == head.classCount, classCount == head.classCount else {
            throw RunError("stage '\(context.stageName)': the classifier has \(head.classCount) classes but the data has \(test.classCount)")
        }
        guard test.count > 0 else { throw RunError("stage '\(context.stageName)': the test split is empty") }
        let started = Date()
        let features = try encoder.embed(test, steps: encoder.evaluationSteps(encoderArtifact, images: data.testImages), threads: place.threads,
                                         batchSize: settings.batchSize, place: place) { done, total in
            context.progress.update(step: done, total: total, message: "embedding the test set")
        }
        let logits = withoutGradients { head.logits(features) }.scalars
        let metrics = EvaluationMetrics(logits: logits, labels: test.labels, classCounts: data.classCounts,
                                        manyAbove: manyAbove, fewBelow: fewBelow)
        func show(_ value: Double?) -> String { value.map { String(format: "%.2f", $0) } ?? "n/a" }
        context.log(String(format: "%d test images in %.1f s (classifier %@): top-1 %.2f%% top-5 %.2f%% many %@ medium %@ few %@",
                           test.count, Date().timeIntervalSince(started), classifier.method, metrics.top1, metrics.top5,
                           show(metrics.many), show(metrics.medium), show(metrics.few)))
        context.recordMetrics(metrics.runMetrics.merging(["class_names": .list(data.trainImages.classNames.map { .string($0) })]) { $1 })
        try ArtifactJSON.write(metrics, to: context.outputDirectory.appendingPathComponent(metricsFile), snakeCaseKeys: true)
    }
}
