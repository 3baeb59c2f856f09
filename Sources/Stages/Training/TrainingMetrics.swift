import Foundation
import PipelineDSL

/// What the training loops record per epoch (`metrics.jsonl`, TensorBoard, the report): one call
/// per epoch, one per re-clustering. The names are the report's and TensorBoard's tags.
extension RunContext {
    /// A first-stage epoch: mean loss, the last step's learning rate, seconds, images per second,
    /// and which objective ran (`supcon_warmup`, `main` or `cross_entropy`).
    func recordEncoderEpoch(_ epoch: Int, loss: Double, learningRate: Float, seconds: Double, images: Int, phase: String) {
        recordEpoch(epoch, values: [
            "loss": .float(loss), "lr": .float(Double(learningRate)), "seconds": .float(seconds),
            "images_per_s": .float(Double(images) / max(seconds, 1e-9)), "phase": .string(phase),
        ])
    }

    /// A re-clustering at the start of `epoch`: k_c and τ_c per class (class order).
    func recordReclustering(_ epoch: Int, result: Reclustering.Result) {
        recordEpoch(epoch, event: "recluster", values: [
            "subclasses": .list(result.clusterCounts.map { .int($0) }),
            "temperatures": .list(result.classTemperatures.map { .float(Double($0)) }),
            "total_subclasses": .int(result.clusterCounts.reduce(0, +)),
        ])
    }

    /// A second-stage epoch: mean loss, training accuracy (%), learning rate and seconds, and with
    /// `test` (`test_curve: true`) the head's test measures after the epoch.
    func recordClassifierEpoch(_ epoch: Int, loss: Double, accuracy: Double, learningRate: Float, seconds: Double,
                               test: EvaluationMetrics? = nil) {
        recordEpoch(epoch, values: [
            "loss": .float(loss), "train_accuracy": .float(accuracy), "lr": .float(Double(learningRate)), "seconds": .float(seconds),
        ].merging(test?.epochValues ?? [:]) { $1 })
    }
}
