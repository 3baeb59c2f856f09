import Foundation
import PipelineDSL

/// The test-set measures of docs/method.md, "Evaluation",, from logits and the training class counts.
///
/// Accuracies are percentages. Per-class accuracy is the diagonal of the confusion matrix over its
/// row sums (the reference's `cls_hit / cls_cnt`); the many / medium / few means average the
/// per-class accuracies of classes with more than `manyAbove` training images, between
/// `fewBelow` and `manyAbove` inclusive, and fewer than `fewBelow` (100 and 20 in the paper).
public struct EvaluationMetrics: Sendable, Equatable, Codable {
    /// Top-1 and top-5 accuracy (%) over all test images; top-5 is top-min(5, C).
    public var top1: Double, top5: Double
    /// Accuracy (%) per class; a class without test images gets 0 and is left out of the group means.
    public var perClass: [Double]
    /// Mean per-class accuracy (%) of the many-, medium- and few-shot classes; nil when a group is empty.
    public var many: Double?, medium: Double?, few: Double?
    /// Training images per class.
    public var classCounts: [Int]
    /// Test images per class.
    public var testCounts: [Int]
    /// `confusion[true][predicted]`: how many test images of class `true` were predicted as `predicted`.
    public var confusion: [[Int]]

    /// Computes every measure.
    /// - Parameters:
    ///   - logits: N × C row-major scores.
    ///   - labels: N true classes.
    ///   - classCounts: C training counts (the shot groups come from these).
    public init(logits: [Float], labels: [Int32], classCounts: [Int], manyAbove: Int = 100, fewBelow: Int = 20) {
        let classes = classCounts.count
        precondition(classes > 0 && logits.count == labels.count * classes,
                     "EvaluationMetrics: \(logits.count) logits for \(labels.count) labels and \(classes) classes")
        precondition(fewBelow <= manyAbove + 1, "EvaluationMetrics: few-shot bound \(fewBelow) above the many-shot bound \(manyAbove)")
        let k = min(5, classes)
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        var hits1 = 0, hits5 = 0
        for (row, label) in labels.enumerated() {
            let y = Int(label)
            precondition(y >= 0 && y < classes, "EvaluationMetrics: label \(y) outside 0..<\(classes)")
            let scores = logits[(row * classes)..<((row + 1) * classes)]
            let predicted = ClassifierPredictions.argmax(logits: Array(scores), classCount: classes)[0]
            confusion[y][predicted] += 1
            if predicted == y { hits1 += 1 }
            // y is in the top k when fewer than k classes score strictly higher (ties favour the
            // lower index, as argmax does).
            let target = scores[scores.startIndex + y]
            var better = 0
            for c in 0..<classes where c != y {
                let s = scores[scores.startIndex + c]
                if s > target || (s == target && c < y) { better += 1 }
            }
            if better < k { hits5 += 1 }
        }
        let n = Double(max(labels.count, 1))
        top1 = 100 * Double(hits1) / n
        top5 = 100 * Double(hits5) / n
        let testCounts = confusion.map { $0.reduce(0, +) }
        let perClass = (0..<classes).map { c in testCounts[c] == 0 ? 0 : 100 * Double(confusion[c][c]) / Double(testCounts[c]) }
        func mean(_ keep: (Int) -> Bool) -> Double? {
            let chosen = (0..<classes).filter { keep(classCounts[$0]) && testCounts[$0] > 0 }
            return chosen.isEmpty ? nil : chosen.map { perClass[$0] }.reduce(0, +) / Double(chosen.count)
        }
        many = mean { $0 > manyAbove }
        medium = mean { $0 >= fewBelow && $0 <= manyAbove }
        few = mean { $0 < fewBelow }
        self.testCounts = testCounts
        self.perClass = perClass
        self.classCounts = classCounts
        self.confusion = confusion
    }

    /// The run metrics (`metrics.json`): `top1`, `top5`, `many`, `medium`, `few` (an empty group is
    /// left out), `per_class`, `class_counts`, `test_counts`, `confusion`.
    public var runMetrics: [String: ParamValue] {
        var values: [String: ParamValue] = [
            "top1": .float(top1), "top5": .float(top5),
            "per_class": .list(perClass.map { .float($0) }),
            "class_counts": .list(classCounts.map { .int($0) }),
            "test_counts": .list(testCounts.map { .int($0) }),
            "confusion": .list(confusion.map { .list($0.map { .int($0) }) }),
        ]
        if let many { values["many"] = .float(many) }
        if let medium { values["medium"] = .float(medium) }
        if let few { values["few"] = .float(few) }
        return values
    }

    /// The values a classifier epoch records with `test_curve: true` (`metrics.jsonl`):
    /// `test_top1`, `test_top5`, and `test_many`, `test_medium`, `test_few` (an empty group is left out).
    public var epochValues: [String: ParamValue] {
        var values: [String: ParamValue] = ["test_top1": .float(top1), "test_top5": .float(top5)]
        if let many { values["test_many"] = .float(many) }
        if let medium { values["test_medium"] = .float(medium) }
        if let few { values["test_few"] = .float(few) }
        return values
    }
}
