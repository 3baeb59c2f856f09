import Foundation
import PipelineDSL
import Engine

/// What both first-stage loops (`EncoderTraining` for CIFAR ResNets, `MoCoTraining` for
/// torchvision ResNets in MoCo) do around their epochs, in one place: the resumed checkpoint's
/// rank check, the divergence error, and the end of an epoch (log, record, cross-rank check,
/// checkpoint when due, the stop asked by `SBCL_ENCODER_STOP_AFTER_EPOCH`).
struct EncoderEpochs {
    let context: RunContext
    let place: ExecutionPlace
    let epochs: Int, checkpointEvery: Int
    let stopAfterEpoch: Int?

    /// Throws unless `checkpoint` was written by a run on this run's number of ranks.
    func checkRanks(of checkpoint: EncoderCheckpoint) throws {
        guard checkpoint.ranks == place.ranks.size else {
            throw RunError("\(EncoderCheckpoint.url(in: context.checkpointDirectory).path) was written by a run on \(checkpoint.ranks) rank\(checkpoint.ranks == 1 ? "" : "s"); "
                           + "resume it with \(checkpoint.ranks) (this run has \(place.ranks.size)), or delete it to start over")
        }
    }

    /// The error of a non-finite loss, saying whether a good checkpoint is kept.
    func divergence(_ value: Float, epoch: Int, step: Int) -> RunError {
        let url = EncoderCheckpoint.url(in: context.checkpointDirectory)
        let kept = FileManager.default.fileExists(atPath: url.path)
            ? "the last good checkpoint stays at \(url.path)" : "no checkpoint was written yet"
        return RunError("stage '\(context.stageName)' diverged: the loss is \(value) at epoch \(epoch), step \(step + 1); "
                        + "\(kept); try a lower learning_rate")
    }

    /// Ends `epoch`: logs and records it (`note` after the log line, `phase` in the record), checks
    /// that every rank holds the same state, writes the checkpoint (on the writing rank, when due)
    /// through `write`, and stops when asked to after this epoch.
    func finish(epoch: Int, meanLoss: Double, rate: Float, seconds: Double, images: Int, note: String, phase: String,
                model: any Module, optimizer: SGD, subclasses: [Int32], classTemperatures: [Float], generator: MT19937,
                write: (EncoderCheckpoint) throws -> Void) throws {
        context.log("epoch \(epoch)/\(epochs)  loss \(EncoderTraining.format(meanLoss))  lr \(String(format: "%.6g", rate))  "
                    + "\(String(format: "%.1f", seconds)) s  \(String(format: "%.1f", Double(images) / max(seconds, 1e-9))) images/s" + note)
        context.recordEncoderEpoch(epoch, loss: meanLoss, learningRate: rate, seconds: seconds, images: images, phase: phase)
        try place.verifyIdentical(model, optimizer: optimizer, after: epoch, stage: context.stageName)
        if context.isWriter, epoch % checkpointEvery == 0 || epoch == epochs || epoch == stopAfterEpoch {
            try write(EncoderCheckpoint(epoch: epoch, subclasses: subclasses, classTemperatures: classTemperatures,
                                        generator: generator, lastLoss: meanLoss, ranks: place.ranks.size))
        }
        if epoch == stopAfterEpoch, epoch < epochs {
            throw RunError("stage '\(context.stageName)' stopped after epoch \(epoch) as asked (\(EncoderStage.stopAfterEpochVariable)); run again to resume")
        }
    }
}
