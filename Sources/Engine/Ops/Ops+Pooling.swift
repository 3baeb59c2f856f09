// The ResNet "option A" shortcut, global average and max pooling, and layout conversion.

extension Tensor {
    /// The CIFAR ResNet "option A" shortcut on NHWC input: keep every other row and column
    /// (`x[:, ::2, ::2, :]`) and pad `padChannels` zero channels on each side.
    public func shortcutA(padChannels p: Int) -> Tensor {
        precondition(rank == 4 && p >= 0, "shortcutA: needs NHWC input and padChannels ≥ 0, got \(shape), \(p)")
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let out = Tensor(uninitializedShape: [n, ShortcutA.outputSize(h), ShortcutA.outputSize(w), c + 2 * p], on: backend)
        if let device = deviceKernels(for: .shortcutA) {
            device.shortcutA(storage, batch: n, height: h, width: w, channels: c, padding: p, into: out.storage)
            let inShape = shape
            return Tensor.recorded(out, op: .shortcutA, inputs: [self]) { g, _ in
                let gx = Tensor(uninitializedShape: inShape, on: g.backend)
                device.shortcutABackward(g.storage, batch: n, height: h, width: w, channels: c, padding: p, into: gx.storage)
                return [gx]
            }
        }
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
        if let device = deviceKernels(for: .globalAvgPool) {
            // The axis sum over the pixels, scaled; the pullback broadcasts g / (H·W) back over them.
            let out = Tensor(uninitializedShape: [n, c], on: backend)
            device.sum(storage, outer: n, size: hw, inner: c, into: out.storage)
            let mean = out.mapFloats(.scale(1 / Float(hw))) { $0 / Float(hw) }
            let inShape = shape
            return Tensor.recorded(mean, op: .globalAvgPool, inputs: [self]) { g, _ in
                let spread = Tensor.zipBroadcast(Tensor.zeros([n, hw, c], on: g.backend), Tensor(shape: [n, 1, c], storage: g.storage),
                                                 "globalAvgPool", .add, +)
                return [Tensor(shape: inShape, storage: spread.mapFloats(.scale(1 / Float(hw))) { $0 / Float(hw) }.storage)]
            }
        }
        let out = Tensor(uninitializedShape: [n, c], on: backend)
        GlobalAveragePool.forward(input: floatBuffer, batch: n, pixels: hw, channels: c, output: out.mutableFloatBuffer)
        let inShape = shape
        return Tensor.recorded(out, op: .globalAvgPool, inputs: [self]) { g, _ in
            let gx = Tensor(uninitializedShape: inShape, on: g.backend)
            GlobalAveragePool.backward(outputGradient: g.floatBuffer, batch: n, pixels: hw, channels: c, inputGradient: gx.mutableFloatBuffer)
            return [gx]
        }
    }

    /// Max pooling of NHWC [N, H, W, C] with a square window (torchvision's ResNet stem uses
    /// kernel 3, stride 2, padding 1) → [N, OH, OW, C]. The gradient goes to each window's first
    /// maximum, summed where windows overlap (PyTorch's `max_pool2d`).
    public func maxPooled(kernelSize: Int, stride: Int, padding: Int = 0) -> Tensor {
        precondition(rank == 4 && dtype == .float32, "maxPooled: needs float32 NHWC input, got \(shape) \(dtype)")
        let g = MaxPool2DGeometry(batch: shape[0], height: shape[1], width: shape[2], channels: shape[3],
                                  kernelSize: kernelSize, stride: stride, padding: padding)
        precondition(kernelSize > 0 && stride > 0 && padding >= 0 && 2 * padding <= kernelSize && g.outputHeight > 0 && g.outputWidth > 0,
                     "maxPooled: kernel \(kernelSize) stride \(stride) padding \(padding) does not fit input \(shape)")
        let outShape = [g.batch, g.outputHeight, g.outputWidth, g.channels], inShape = shape
        let out = Tensor(uninitializedShape: outShape, on: backend)
        let indices = Tensor(uninitializedShape: outShape, dtype: .int32, on: backend)
        if let device = deviceKernels(for: .maxPool2d) {
            device.maxPool2d(g, input: storage, into: out.storage, indices: indices.storage)
            return Tensor.recorded(out, op: .maxPool2d, inputs: [self]) { grad, _ in
                let gx = Tensor(uninitializedShape: inShape, on: grad.backend)
                device.maxPool2dBackward(g, outputGradient: grad.storage, indices: indices.storage, into: gx.storage)
                return [gx]
            }
        }
        let count = g.outputCount
        MaxPool2D.forward(g, input: floatBuffer, output: out.mutableFloatBuffer,
                          indices: UnsafeMutableBufferPointer(start: indices.storage.int32s, count: count))
        return Tensor.recorded(out, op: .maxPool2d, inputs: [self]) { grad, _ in
            let gx = Tensor(uninitializedShape: inShape, on: grad.backend)
            MaxPool2D.backward(g, outputGradient: grad.floatBuffer, indices: UnsafeBufferPointer(start: indices.storage.int32s, count: count),
                               inputGradient: gx.mutableFloatBuffer)
            return [gx]
        }
    }

    /// max(a + b, 0) for two tensors of one shape: the end of a residual block, in one pass.
    public static func addReLU(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape && a.dtype == .float32 && b.dtype == .float32,
                     "addReLU: shapes \(a.shape) and \(b.shape) differ (or are not float32)")
        if a.deviceKernels(for: .addReLU) != nil {
            let out = zipBroadcast(a, b, "addReLU", .add, +).mapFloats(.relu) { Swift.max($0, 0) }
            return recorded(out, op: .addReLU, inputs: [a, b]) { g, _ in
                let gx = zipBroadcast(g, out, "addReLU", .reluBackward, { $1 > 0 ? $0 : 0 })
                return [gx, gx]
            }
        }
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
        if deviceKernels(for: .nchwToNHWC) != nil {
            // A strided gather through the broadcast kernel: output (n, y, x, c) reads n·CHW + c·HW + y·W + x.
            let out = gathered([n, h, w, c], strides: [c * h * w, w, 1, h * w])
            return Tensor.recorded(out, op: .nchwToNHWC, inputs: [self]) { g, _ in
                [g.gathered([n, c, h, w], strides: [h * w * c, 1, w * c, c])]
            }
        }
        let out = Tensor(uninitializedShape: [n, h, w, c], on: backend)
        Tensor.permute(storage.floats, out.storage.floats, n, c, h * w)
        return Tensor.recorded(out, op: .nchwToNHWC, inputs: [self]) { g, _ in
            let gx = Tensor(uninitializedShape: [n, c, h, w], on: g.backend)
            Tensor.permute(g.storage.floats, gx.storage.floats, n, h * w, c)
            return [gx]
        }
    }

    /// A device tensor of `shape` whose element at each index reads this tensor at the offset
    /// Σ index·stride: layout changes (transposes, permutations) through the broadcast kernel.
    func gathered(_ shape: [Int], strides: [Int]) -> Tensor {
        guard let device = deviceKernels(for: .add) else { preconditionFailure("gathered: \(backend.name) is not a device") }
        let out = Tensor(uninitializedShape: shape, on: backend)
        let zero = Tensor.zeros([1], on: backend)
        device.zip(.add, storage, strides: strides, zero.storage, strides: [Int](repeating: 0, count: shape.count),
                   shape: shape, into: out.storage)
        return out
    }

    /// Transposes each of `n` [a, b] matrices into [b, a].
    static func permute(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ a: Int, _ b: Int) {
        for i in 0..<n { for p in 0..<a { for q in 0..<b { y[(i * b + q) * a + p] = x[(i * a + p) * b + q] } } }
    }
}
