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
}
