extension Tensor {
    /// 2-D convolution without bias: input NHWC [N, H, W, Cin], weight OIHW [Cout, Cin, kh, kw]
    /// (PyTorch's layout), output NHWC [N, Ho, Wo, Cout]. Runs the direct SIMD kernels of `Conv2D`.
    public static func conv2d(_ input: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0) -> Tensor {
        precondition(input.rank == 4 && weight.rank == 4 && input.shape[3] == weight.shape[1],
                     "conv2d: input NHWC \(input.shape) does not match weight OIHW \(weight.shape)")
        precondition(stride >= 1 && padding >= 0, "conv2d: stride \(stride) and padding \(padding) must be ≥ 1 and ≥ 0")
        let g = Conv2DGeometry(batch: input.shape[0], inputHeight: input.shape[1], inputWidth: input.shape[2],
                               inputChannels: input.shape[3], outputChannels: weight.shape[0],
                               kernelHeight: weight.shape[2], kernelWidth: weight.shape[3],
                               strideHeight: stride, strideWidth: stride, paddingHeight: padding, paddingWidth: padding)
        precondition(g.outputHeight >= 1 && g.outputWidth >= 1, "conv2d: kernel \(weight.shape) larger than padded input \(input.shape)")
        let out = Tensor(uninitializedShape: [g.batch, g.outputHeight, g.outputWidth, g.outputChannels], on: input.backend)
        if let device = input.deviceKernels(for: .conv2d) {
            device.conv2dForward(g, input: input.storage, weight: weight.storage, into: out.storage)
            return recorded(out, op: .conv2d, inputs: [input, weight]) { grad, needs in
                var gi: Tensor?, gw: Tensor?
                if needs[0] {
                    gi = Tensor(uninitializedShape: input.shape, on: grad.backend)
                    device.conv2dBackwardData(g, outputGradient: grad.storage, weight: weight.storage, into: gi!.storage)
                }
                if needs[1] {
                    gw = Tensor(uninitializedShape: weight.shape, on: grad.backend)
                    device.conv2dBackwardWeight(g, input: input.storage, outputGradient: grad.storage, into: gw!.storage)
                }
                return [gi, gw]
            }
        }
        // The kernels of the backend the tensors live on (the process's CPU backend).
        let kernels = (input.backend as? CPUBackend ?? CPUBackend.shared).convKernels
        WorkspacePool.with { ws in
            Conv2D.forward(g, input: input.floatBuffer, weight: weight.floatBuffer, output: out.mutableFloatBuffer,
                           kernels: kernels, workspace: ws)
        }
        return recorded(out, op: .conv2d, inputs: [input, weight]) { grad, needs in
            var gi: Tensor?, gw: Tensor?
            WorkspacePool.with { ws in
                if needs[0] {
                    gi = Tensor(uninitializedShape: input.shape, on: grad.backend)
                    Conv2D.backwardData(g, outputGradient: grad.floatBuffer, weight: weight.floatBuffer,
                                        inputGradient: gi!.mutableFloatBuffer, kernels: kernels, workspace: ws)
                }
                if needs[1] {
                    gw = Tensor(uninitializedShape: weight.shape, on: grad.backend)
                    Conv2D.backwardWeight(g, input: input.floatBuffer, outputGradient: grad.floatBuffer,
                                          weightGradient: gw!.mutableFloatBuffer, kernels: kernels, workspace: ws)
                }
            }
            return [gi, gw]
        }
    }

    /// The elements as a read-only buffer, for kernels.
    @inline(__always) var floatBuffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: storage.floats, count: count) }
    /// The elements as a writable buffer, for kernels writing a fresh result.
    @inline(__always) var mutableFloatBuffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: storage.floats, count: count)
    }
}
