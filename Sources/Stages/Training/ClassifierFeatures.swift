import Foundation
import Engine
import Datasets
import PipelineDSL

/// The views a CIFAR ResNet encoder is fed in the second stage and the evaluation (`FrozenEncoder`
/// embeds them, in eval mode, without gradients): normalised with the encoder's per-channel
/// statistics, at its image size.
public enum ClassifierFeatures {
    /// The steps that turn a stored image into the encoder's input without randomness: a resize and
    /// centre crop when the image side differs from the encoder's, then normalisation.
    public static func evaluationSteps(for encoder: EncoderArtifact, height: Int, width: Int) -> [AugmentationStep] {
        var steps: [AugmentationStep] = []
        if height != encoder.imageSize || width != encoder.imageSize {
            steps += [.resize(size: encoder.imageSize), .centerCrop(size: encoder.imageSize)]
        }
        return steps + [.normalize(mean: encoder.mean.map(Double.init), std: encoder.std.map(Double.init))]
    }

    /// The reference's training views of the second stage: RandomCrop(size, padding 4), flip,
    /// normalise (after a resize when the stored side differs from the encoder's).
    public static func trainingSteps(for encoder: EncoderArtifact, height: Int, width: Int) -> [AugmentationStep] {
        var steps: [AugmentationStep] = []
        if height != encoder.imageSize || width != encoder.imageSize {
            steps += [.resize(size: encoder.imageSize), .centerCrop(size: encoder.imageSize)]
        }
        return steps + AugmentationStep.classifierViews(size: encoder.imageSize, mean: encoder.mean.map(Double.init),
                                                        std: encoder.std.map(Double.init))
    }

    /// Checks that the images fit the encoder (channel count); a mismatch is the user's recipe error.
    public static func checkCompatible(_ images: ImageSet, with encoder: EncoderArtifact, stage: String) throws {
        guard images.channels == encoder.inputChannels else {
            throw RunError("stage '\(stage)': the data has \(images.channels)-channel images but the encoder takes \(encoder.inputChannels) channels")
        }
    }
}
