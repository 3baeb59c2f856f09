import Engine

/// The contrastive loss the step benchmark differentiates: plain SupCon (τ = 0.1) over the
/// two views, composed from engine ops until the fused SBCL loss kernel is wired in.
struct StepBenchLoss {
    let labels: [Int32], subclasses: [Int32], classes: Int
    var kind: String { "supcon-composite" }

    func callAsFunction(_ z: Tensor) -> Tensor {
        let n = z.shape[0], b = n / 2
        let tau: Float = 0.1
        let y = labels + labels
        var positives = [Float](repeating: 0, count: n * n), selfMask = [Float](repeating: 0, count: n * n)
        for i in 0..<n { selfMask[i * n + i] = 1; for j in 0..<n where j != i && y[i] == y[j] { positives[i * n + j] = 1 } }
        let pos = Tensor(positives, shape: [n, n]), diag = Tensor(selfMask, shape: [n, n])
        let logits = Tensor.matmul(z, z, transposeB: true).scaled(by: 1 / tau).maskedFill(diag, with: -1e9)
        let logProb = logits.logSoftmax()
        let perAnchor = (logProb * pos).sum(axis: 1) / pos.sum(axis: 1)
        _ = b
        return perAnchor.mean().scaled(by: -1)
    }
}
