import Engine

/// An argument of a kernel launch, in the order of the kernel's parameters.
package enum KernelArgument {
    case buffer(TensorStorage)
    case int(Int)
    case float(Float)
    /// A struct passed by value (its bytes).
    case bytes([Int32])
    /// `count` bytes of local (OpenCL) or dynamic shared (CUDA) memory; the kernel's placeholder
    /// pointer parameter.
    case local(Int)
}

/// Which of a convolution's three products.
package enum ConvolutionDirection: String, CaseIterable, Sendable {
    case forward, backwardData = "backward-data", backwardFilter = "backward-filter"
}

/// A GPU backend that runs the shared kernel text (`KernelSource`): it launches a kernel by name
/// over a 1-D range in work-groups (OpenCL's global and local sizes; CUDA's blocks of threads),
/// and multiplies matrices with its BLAS. On these two the engine's `DeviceKernels` are written
/// once, in the extensions beside this file — the launch geometry and argument lists of every op
/// — so the OpenCL and CUDA backends differ only in how a launch, a GEMM and (on CUDA) a cuDNN
/// convolution reach their driver.
package protocol KernelLaunching: DeviceKernels {
    /// Queues `kernel` over `global` work items (a multiple of `local`) in groups of `local`.
    func launch(_ kernel: String, global: Int, local: Int, _ arguments: [KernelArgument])
    /// Work items per group for the element-wise kernels.
    static var elementwiseGroup: Int { get }
    /// The most work items one group may have on this device.
    var maximumGroupSize: Int { get }
    /// A convolution's GEMM (as `gemm`; CUDA applies TF32 when its precision allows it for
    /// convolutions).
    func convolutionGEMM(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, a: TensorStorage, lda: Int,
                         b: TensorStorage, ldb: Int, c: TensorStorage, ldc: Int)
    /// Computes one product of a convolution through a vendor library (cuDNN) and returns true,
    /// or returns false when there is none for it (then im2col and a GEMM run).
    func libraryConvolution(_ direction: ConvolutionDirection, _ g: Conv2DGeometry, input: TensorStorage,
                            weight: TensorStorage, output: TensorStorage) -> Bool
}

extension KernelLaunching {
    /// `count` rounded up to whole groups.
    package static func groups(_ count: Int, of size: Int) -> Int { (count + size - 1) / size * size }

    /// Launches an element-wise kernel over `count` items.
    package func launchElementwise(_ kernel: String, count: Int, _ arguments: [KernelArgument]) {
        launch(kernel, global: Self.groups(count, of: Self.elementwiseGroup), local: Self.elementwiseGroup, arguments)
    }

    /// A power-of-two work-group width for a row reduction over `count` values (at most `cap` and
    /// the device's limit).
    package func rowWidth(_ count: Int, cap: Int = 256) -> Int {
        var width = 1
        while width < Swift.min(count, cap, maximumGroupSize) { width *= 2 }
        return width > maximumGroupSize ? width / 2 : width
    }

    /// Row-major element strides of `shape`, 0 along dimensions of size 1.
    package static func denseStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var s = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = shape[d] == 1 ? 0 : s
            s *= shape[d]
        }
        return strides
    }
}
