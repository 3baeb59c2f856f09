import Foundation
import Engine
import Datasets

/// Classifies images with a trained model: the run's test-time views, the frozen encoder in eval
/// mode, the classifier's logits, softmax probabilities.
public struct Predictor {
    /// The model.
    public let model: PredictionModel
    /// Images embedded at a time.
    public var batchSize: Int
    /// Loader and kernel threads.
    public var threads: Int

    /// A predictor over `model`.
    public init(model: PredictionModel, batchSize: Int = 256, threads: Int) {
        self.model = model
        self.batchSize = batchSize
        self.threads = threads
    }

    /// The logits `[N, classes]` of every input image, in order. `progress(done, total)` is
    /// called after each batch (images done, images in all).
    /// - Throws: `DatasetError` naming an image that cannot be read or decoded.
    public func logits(_ inputs: PredictionInputs, progress: (Int, Int) -> Void = { _, _ in }) throws -> [Float] {
        guard inputs.count > 0 else { return [] }
        let place = ExecutionPlace.cpu(threads: threads)
        place.activate()
        let features = try model.encoder.embed(inputs, steps: model.viewSteps, threads: threads, batchSize: batchSize,
                                               place: place) { step, steps in
            progress(min(inputs.count, step * batchSize), inputs.count)
        }
        return withoutGradients { model.head.logits(features) }.scalars
    }

    /// Predictions for every input image, with the top `top` classes each.
    /// - Throws: `DatasetError` naming an image that cannot be read or decoded.
    public func predict(_ inputs: PredictionInputs, top: Int, progress: (Int, Int) -> Void = { _, _ in }) throws -> PredictionReport {
        let values = try logits(inputs, progress: progress)
        return PredictionReport(logits: values, inputs: inputs, classNames: model.classNames, top: top, source: model.source,
                                logitScale: model.logitScale)
    }
}

/// The outcome of `Predictor.predict`: per image the top-K classes with probabilities, and a
/// per-class summary (how many images were assigned each class; with labels, how many of each
/// class there were and the accuracy on them).
public struct PredictionReport: Sendable {
    /// One image's result.
    public struct Item: Sendable {
        /// The image file.
        public var path: String
        /// Its label from a split file, if given.
        public var label: Int?
        /// The top classes, most probable first: class index and softmax probability.
        public var top: [(index: Int, probability: Double)]
        /// Every class's logit, in class order.
        public var logits: [Float]
        /// The predicted class (the first of `top`).
        public var predicted: Int { top[0].index }
    }

    /// One class's line of the summary.
    public struct ClassSummary: Sendable {
        /// The class index and name.
        public var index: Int, name: String
        /// Images predicted as this class.
        public var predicted: Int
        /// Labelled images of this class, and how many of them were predicted right.
        public var labelled: Int, correct: Int
    }

    /// Per image, in input order.
    public var items: [Item]
    /// The class names.
    public var classNames: [String]
    /// Where the model came from.
    public var source: String

    /// Builds the report from logits `[N, classes]` (row k is image k of `inputs`); probabilities
    /// are softmax(`logitScale` · logits).
    public init(logits: [Float], inputs: PredictionInputs, classNames: [String], top: Int, source: String, logitScale: Double = 1) {
        let classes = classNames.count
        precondition(logits.count == inputs.count * classes, "PredictionReport: \(logits.count) logits for \(inputs.count) images × \(classes) classes")
        let k = max(1, min(top, classes))
        self.classNames = classNames
        self.source = source
        items = (0..<inputs.count).map { row in
            let z = logits[(row * classes)..<((row + 1) * classes)].map { logitScale * Double($0) }
            let peak = z.max() ?? 0
            let exps = z.map { Foundation.exp($0 - peak) }
            let total = exps.reduce(0, +)
            // Ties keep the lower index first, as torch.topk and argmax do.
            let order = (0..<classes).sorted { z[$0] != z[$1] ? z[$0] > z[$1] : $0 < $1 }
            return Item(path: inputs.files.paths[row], label: inputs.labelled[row] ? Int(inputs.labels[row]) : nil,
                        top: order.prefix(k).map { ($0, exps[$0] / total) }, logits: Array(logits[(row * classes)..<((row + 1) * classes)]))
        }
    }

    /// Labelled images and how many were predicted right; nil when no image has a label.
    public var accuracy: (labelled: Int, correct: Int, top1: Double)? {
        let labelled = items.filter { $0.label != nil }
        guard !labelled.isEmpty else { return nil }
        let correct = labelled.filter { $0.label == $0.predicted }.count
        return (labelled.count, correct, 100 * Double(correct) / Double(labelled.count))
    }

    /// One line per class.
    public var summary: [ClassSummary] {
        var lines = classNames.enumerated().map { ClassSummary(index: $0.offset, name: $0.element, predicted: 0, labelled: 0, correct: 0) }
        for item in items {
            lines[item.predicted].predicted += 1
            if let label = item.label {
                lines[label].labelled += 1
                if label == item.predicted { lines[label].correct += 1 }
            }
        }
        return lines
    }
}
