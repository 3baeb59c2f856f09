import CCUDA
import DeviceKernelSource
import Engine

// The three convolutions through cuDNN (CuDNNConvolutions picks and keeps the algorithms), with
// the weights turned between the engine's OIHW and cuDNN's OHWI by two small kernels.

extension CUDABackend {
    /// Runs `direction` of the convolution `g` through cuDNN and returns true, or returns false
    /// when cuDNN cannot (not loaded, `SBCL_CUDA_CONVOLUTIONS=im2col`, or a geometry it refuses):
    /// the caller then lowers it to im2col and a GEMM. Operands by direction: forward
    /// (`input`, `weight` → `output`), backward data (`weight`, `output` gradient → `input`
    /// gradient), backward filter (`input`, `output` gradient → `weight` gradient).
    func cudnnConvolution(_ direction: CuDNNConvolutions.Direction, _ g: Conv2DGeometry, input: TensorStorage,
                          weight: TensorStorage, output: TensorStorage) -> Bool {
        guard let convolutions, let (plan, choice) = convolutions.choice(g, direction) else { return false }
        guard !hasPendingError else { return true }
        let taps = g.kernelHeight * g.kernelWidth
        let count = g.outputChannels * g.inputChannels * taps
        // The filter in OHWI: the weights turned (forward, backward data) or a buffer to turn back.
        let filter: TensorStorage
        if taps == 1 {
            filter = weight
        } else {
            filter = allocate(byteCount: count * 4)
            if direction != .backwardFilter { turn("sbcl_oihw_to_ohwi", weight, into: filter, count: count, g) }
        }
        let workspace = choice.workspace > 0 ? allocate(byteCount: choice.workspace) : nil
        guard let x = input.deviceBuffer.handle, let w = filter.deviceBuffer.handle, let y = output.deviceBuffer.handle,
              workspace == nil || workspace?.deviceBuffer.handle != nil else { return true }
        let space = workspace?.deviceBuffer.handle
        let api = convolutions.api, handle = convolutions.handle
        let descriptor = plan.convolutions[direction]!
        var alpha: Float = 1, beta: Float = 0
        var status: Int32 = 0
        bind()
        timed("cudnn_\(direction.rawValue)") {
            status = switch direction {
            case .forward:
                api.forward!(handle, &alpha, plan.x, x, plan.w, w, descriptor, choice.algorithm, space, choice.workspace, &beta,
                             plan.y, y)
            case .backwardData:
                api.backwardData!(handle, &alpha, plan.w, w, plan.y, y, descriptor, choice.algorithm, space, choice.workspace,
                                  &beta, plan.x, x)
            case .backwardFilter:
                api.backwardFilter!(handle, &alpha, plan.x, x, plan.y, y, descriptor, choice.algorithm, space, choice.workspace,
                                    &beta, plan.w, w)
            }
        }
        if status != 0 {
            state.withLock { s in
                guard s.pendingError == nil else { return }
                if status == Int32(SBCL_CUDNN_STATUS_ALLOC_FAILED) {
                    s.pendingError = .outOfMemory(device: name, requestedBytes: choice.workspace, inUseBytes: s.allocatedBytes,
                                                  capacityBytes: memoryLimit, stage: nil)
                } else {
                    s.pendingError = .failure(device: name, message: "cuDNN's \(direction.rawValue) convolution \(g) "
                        + "(algorithm \(choice.algorithm)) failed: \(convolutions.text(status))")
                }
            }
            return true
        }
        if direction == .backwardFilter, taps > 1 { turn("sbcl_ohwi_to_oihw", filter, into: weight, count: count, g) }
        return true
    }

    /// OIHW ↔ OHWI for `g`'s weights.
    private func turn(_ kernel: String, _ source: TensorStorage, into destination: TensorStorage, count: Int, _ g: Conv2DGeometry) {
        launch(kernel, global: Self.groups(count, of: Self.elementwiseGroup), local: Self.elementwiseGroup,
               [.buffer(source), .buffer(destination), .int(count), .int(g.inputChannels), .int(g.kernelHeight * g.kernelWidth)])
    }

    /// The algorithm cuDNN was measured to run best for each convolution seen so far.
    package var convolutionChoices: [String] { convolutions?.choices ?? [] }
}
