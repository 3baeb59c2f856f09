/// Inference with a trained encoder.
public enum Embedding {
    /// Encoder features [N, 64] (or normalised projections [N, 128] with `projection`) of NCHW
    /// images, in eval mode, `batch` images at a time.
    public static func embed(model: SupConResNet, nchw: Tensor, projection: Bool, batch: Int = 256) -> Tensor {
        precondition(nchw.rank == 4, "embed: needs NCHW images, got \(nchw.shape)")
        let n = nchw.shape[0]
        return withoutGradients {
            var parts: [Tensor] = []
            for start in stride(from: 0, to: n, by: batch) {
                let images = nchw.sliced(axis: 0, start..<Swift.min(n, start + batch)).nchwToNHWC()
                let f = model.features(images, training: false)
                parts.append(projection ? model.project(f) : f)
            }
            if parts.isEmpty { return Tensor.zeros([0, projection ? model.head2.weight.shape[0] : 64]) }
            return Tensor.concat(parts, axis: 0)
        }
    }

    /// Pooled backbone features [N, 512 or 2048] of a torchvision ResNet (or, with `projection`,
    /// its MLP head's output L2-normalised: MoCo's [N, 128]) of NCHW images, in eval mode.
    public static func embed(model: ResNetImageNet, nchw: Tensor, projection: Bool, batch: Int = 64) -> Tensor {
        precondition(nchw.rank == 4, "embed: needs NCHW images, got \(nchw.shape)")
        precondition(!projection || model.fcHidden != nil, "embed: projection needs the MLP head (fc.0, fc.2)")
        let n = nchw.shape[0]
        return withoutGradients {
            var parts: [Tensor] = []
            for start in stride(from: 0, to: n, by: batch) {
                let images = nchw.sliced(axis: 0, start..<Swift.min(n, start + batch)).nchwToNHWC()
                let f = model.features(images, training: false)
                parts.append(projection ? model.head(f).l2Normalized() : f)
            }
            if parts.isEmpty { return Tensor.zeros([0, projection ? model.outputDimension : model.featureDimension]) }
            return Tensor.concat(parts, axis: 0)
        }
    }
}
