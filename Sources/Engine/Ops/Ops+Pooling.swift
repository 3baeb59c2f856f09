// The ResNet "option A" shortcut, global average pooling, and layout conversion.

extension Tensor {
    /// The CIFAR ResNet "option A" shortcut on NHWC input: keep every other row and column
    /// (`x[:, ::2, ::2, :]`) and pad `padChannels` zero channels on each side.
    public func shortcutA(padChannels p: Int) -> Tensor {
        precondition(rank == 4 && p >= 0, "shortcutA: needs NHWC input and padChannels ≥ 0, got \(shape), \(p)")
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let out = Tensor(uninitializedShape: [n, ShortcutA.outputSize(h), ShortcutA.outputSize(w), c + 2 * p], on: backend)
        ShortcutA.forward(input: floatBuffer, batch: n, height: h, width: w, channels: c, padding: p, output: out.mutableFloatBuffer)
        let inShape = shape
        return Tensor.recorded(out, op: .shortcutA, inputs: [self]) { g, _ in
            let gx = Tensor(uninitializedShape: inShape, on: g.backend)
            ShortcutA.backward(outputGradient: g.floatBuffer, batch: n, height: h, width: w, channels: c, padding: p,
                               inputGradient: gx.mutableFloatBuffer)
            return [gx]
        }
    }

    /// Global average pooling: NHWC [N, H, W, C] → [N, C].
    public func globalAveragePooled() -> Tensor {
        precondition(rank == 4, "globalAveragePooled: needs NHWC input, got \(shape)")
        let (n, hw, c) = (shape[0], shape[1] * shape[2], shape[3])
        let out = Tensor(uninitializedShape: [n, c], on: backend)
        GlobalAveragePool.forward(input: floatBuffer, batch: n, pixels: hw, channels: c, output: out.mutableFloatBuffer)
        let inShape = shape
        return Tensor.recorded(out, op: .globalAvgPool, inputs: [self]) { g, _ in
            let gx = Tensor(uninitializedShape: inShape, on: g.backend)
            GlobalAveragePool.backward(outputGradient: g.floatBuffer, batch: n, pixels: hw, channels: c, inputGradient: gx.mutableFloatBuffer)
            return [gx]
        }
    }

    /// max(a + b, 0) for two tensors of one shape: the end of a residual block, in one pass.
    public static func addReLU(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape && a.dtype == .float32 && b.dtype == .float32,
                     "addReLU: shapes \(a.shape) and \(b.shape) differ (or are not float32)")
        let out = Tensor(uninitializedShape: a.shape, on: a.backend)
        Activation.addReLUForward(a.floatBuffer, b.floatBuffer, output: out.mutableFloatBuffer)
        return recorded(out, op: .addReLU, inputs: [a, b]) { g, _ in
            let gx = Tensor(uninitializedShape: g.shape, on: g.backend)
            Activation.addReLUBackward(output: out.floatBuffer, outputGradient: g.floatBuffer, inputGradient: gx.mutableFloatBuffer)
            return [gx, gx]
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
