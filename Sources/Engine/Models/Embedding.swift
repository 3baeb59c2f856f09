/// Inference with a trained encoder.
public enum Embedding {
    /// Encoder features [N, 64] (or normalised projections [N, 128] with `projection`) of NCHW
    /// images, in eval mode, `batch` images at a time.
    public static func embed(model: SupConResNet, nchw: Tensor, projection: Bool, batch: Int = 256) -> Tensor {
        batched(nchw, batch: batch, width: projection ? model.head2.weight.shape[0] : 64) { images in
            let f = model.features(images, training: false)
            return projection ? model.project(f) : f
        }
    }

    /// Pooled backbone features [N, 512 or 2048] of a torchvision ResNet (or, with `projection`,
    /// its MLP head's output L2-normalised: MoCo's [N, 128]) of NCHW images, in eval mode.
    public static func embed(model: ResNetImageNet, nchw: Tensor, projection: Bool, batch: Int = 64) -> Tensor {
        precondition(!projection || model.fcHidden != nil, "embed: projection needs the MLP head (fc.0, fc.2)")
        return batched(nchw, batch: batch, width: projection ? model.outputDimension : model.featureDimension) { images in
            let f = model.features(images, training: false)
            return projection ? model.head(f).l2Normalized() : f
        }
    }

    /// `body` of NHWC slices of `batch` images of NCHW `nchw`, without gradients, concatenated
    /// ([0, `width`] for no images).
    private static func batched(_ nchw: Tensor, batch: Int, width: Int, _ body: (Tensor) -> Tensor) -> Tensor {
        precondition(nchw.rank == 4, "embed: needs NCHW images, got \(nchw.shape)")
        let n = nchw.shape[0]
        return withoutGradients {
            var parts: [Tensor] = []
            for start in stride(from: 0, to: n, by: batch) {
                parts.append(body(nchw.sliced(axis: 0, start..<Swift.min(n, start + batch)).nchwToNHWC()))
            }
            return parts.isEmpty ? Tensor.zeros([0, width]) : Tensor.concat(parts, axis: 0)
        }
    }
}
