// The ResNet "option A" shortcut, global average pooling, and layout conversion.

extension Tensor {
    /// The CIFAR ResNet "option A" shortcut on NHWC input: keep every other row and column
    /// (`x[:, ::2, ::2, :]`) and pad `padChannels` zero channels on each side.
    public func shortcutA(padChannels p: Int) -> Tensor {
        precondition(rank == 4 && p >= 0, "shortcutA: needs NHWC input and padChannels ≥ 0, got \(shape), \(p)")
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let (ho, wo, co) = ((h + 1) / 2, (w + 1) / 2, c + 2 * p)
        let out = Tensor.zeros([n, ho, wo, co], on: backend)
        let x = storage.floats, y = out.storage.floats
        for b in 0..<n { for i in 0..<ho { for j in 0..<wo {
            (y + ((b * ho + i) * wo + j) * co + p).update(from: x + ((b * h + 2 * i) * w + 2 * j) * c, count: c)
        } } }
        let inShape = shape
        return Tensor.recorded(out, op: .shortcutA, inputs: [self]) { g, _ in
            let gx = Tensor.zeros(inShape, on: g.backend)
            let gp = g.storage.floats, xp = gx.storage.floats
            for b in 0..<n { for i in 0..<ho { for j in 0..<wo {
                (xp + ((b * h + 2 * i) * w + 2 * j) * c).update(from: gp + ((b * ho + i) * wo + j) * co + p, count: c)
            } } }
            return [gx]
        }
    }

    /// Global average pooling: NHWC [N, H, W, C] → [N, C].
    public func globalAveragePooled() -> Tensor {
        precondition(rank == 4, "globalAveragePooled: needs NHWC input, got \(shape)")
        let (n, hw, c) = (shape[0], shape[1] * shape[2], shape[3])
        let out = Tensor.zeros([n, c], on: backend)
        let x = storage.floats, y = out.storage.floats
        let inv = 1 / Float(hw)
        for b in 0..<n {
            for s in 0..<hw { for j in 0..<c { y[b * c + j] += x[(b * hw + s) * c + j] } }
            for j in 0..<c { y[b * c + j] *= inv }
        }
        let inShape = shape
        return Tensor.recorded(out, op: .globalAvgPool, inputs: [self]) { g, _ in
            let gx = Tensor(uninitializedShape: inShape, on: g.backend)
            let gp = g.storage.floats, xp = gx.storage.floats
            for b in 0..<n { for s in 0..<hw { for j in 0..<c { xp[(b * hw + s) * c + j] = gp[b * c + j] * inv } } }
            return [gx]
        }
    }

    /// NCHW [N, C, H, W] (PyTorch's layout) → NHWC [N, H, W, C] (the engine's).
    public func nchwToNHWC() -> Tensor {
        precondition(rank == 4, "nchwToNHWC: needs a 4-D tensor, got \(shape)")
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let out = Tensor(uninitializedShape: [n, h, w, c], on: backend)
        Tensor.permute(storage.floats, out.storage.floats, n, c, h * w)
        return Tensor.recorded(out, op: .nchwToNHWC, inputs: [self]) { g, _ in
            let gx = Tensor(uninitializedShape: [n, c, h, w], on: g.backend)
            Tensor.permute(g.storage.floats, gx.storage.floats, n, h * w, c)
            return [gx]
        }
    }

    /// Transposes each of `n` [a, b] matrices into [b, a].
    static func permute(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ a: Int, _ b: Int) {
        for i in 0..<n { for p in 0..<a { for q in 0..<b { y[(i * b + q) * a + p] = x[(i * a + p) * b + q] } } }
    }
}
