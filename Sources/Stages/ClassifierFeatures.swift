import Foundation
import Engine
import Datasets
import PipelineDSL

/// Feeding images to the frozen encoder the way it was trained: normalised with the encoder's
/// per-channel statistics, at its image size, in eval mode, without gradients.
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

    /// Encoder features of a batch of NHWC views `[B, H, W, C]`: `[B, 64]`, eval mode, no gradients.
    /// With a device `place` (whose backend holds `model`) the forward runs there and the features
    /// come back to the CPU, where the second stage's linear head trains and evaluates.
    public static func features(of batch: Batch, model: SupConResNet, place: ExecutionPlace? = nil) -> Tensor {
        withoutGradients {
            let images = place?.input(batch.images, shape: batch.shape) ?? Tensor(batch.images, shape: batch.shape)
            return model.features(images, training: false).moved(to: CPUBackend.shared)
        }
    }

    /// Features `[N, 64]` of every image of `images` in order, un-augmented, `batchSize` at a time.
    /// `progress(done, total)` is called after each batch.
    public static func embed(_ images: ImageSet, model: SupConResNet, encoder: EncoderArtifact, threads: Int,
                             batchSize: Int = 256, place: ExecutionPlace? = nil,
                             progress: (Int, Int) -> Void = { _, _ in }) throws -> Tensor {
        let pipeline = try AugmentationPipeline(steps: evaluationSteps(for: encoder, height: images.height, width: images.width))
        let sampler = Sampler(kind: .sequential, labels: images.labels, classCount: images.classCount, seed: 0)
        let loader = try BatchLoader(source: images, pipeline: pipeline, sampler: sampler, batchSize: batchSize,
                                     seed: 0, threads: threads)
        var parts: [Tensor] = []
        for step in 0..<loader.stepsPerEpoch {
            let batch = try loader.batch(at: LoaderPosition(epoch: 0, step: step))
            parts.append(features(of: batch, model: model, place: place))
            progress(step + 1, loader.stepsPerEpoch)
        }
        return Tensor.concat(parts, axis: 0)
    }
}
