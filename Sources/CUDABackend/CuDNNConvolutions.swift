import CCUDA
import DeviceKernelSource
import Engine
import Synchronization

/// The convolutions through cuDNN: NHWC activations as the engine keeps them, filters in cuDNN's
/// NHWC order (OHWI; the engine's OIHW weights are transposed on the device around each call, a
/// no-op for 1×1 kernels), float32 data and accumulation.
///
/// The algorithm of each geometry and direction is measured once (`cudnnFind…`: every applicable
/// algorithm runs on scratch tensors) and kept: the fastest deterministic one whose workspace fits
/// `workspaceLimit`, else the fastest that fits. `float32` precision allows only FMA math (no
/// TF32), as PyTorch with `allow_tf32` off; the TF32 precisions allow tensor-core math, as
/// PyTorch's default for cuDNN. A geometry cuDNN refuses (descriptors or search) falls back to the
/// im2col path, recorded in `choices`.
final class CuDNNConvolutions: @unchecked Sendable {
    // @unchecked Sendable: the handle and descriptors are used on the backend's one stream; the
    // plan table is behind its lock.

    /// The three convolutions of a layer.
    typealias Direction = ConvolutionDirection

    /// One measured choice.
    struct Choice: Sendable {
        let algorithm: Int32
        let workspace: Int
        let mathType: Int32
        let milliseconds: Float
        let deterministic: Bool
    }

    /// The descriptors of one geometry and the choices found so far (nil: cuDNN refused it).
    final class Plan: @unchecked Sendable {
        let x: UnsafeMutableRawPointer, y: UnsafeMutableRawPointer, w: UnsafeMutableRawPointer
        /// One convolution descriptor per direction (each carries its choice's math type).
        let convolutions: [Direction: UnsafeMutableRawPointer]
        var choices: [Direction: Choice?] = [:]
        init(x: UnsafeMutableRawPointer, y: UnsafeMutableRawPointer, w: UnsafeMutableRawPointer,
             convolutions: [Direction: UnsafeMutableRawPointer]) {
            self.x = x; self.y = y; self.w = w; self.convolutions = convolutions
        }
    }

    let api: sbcl_cudnn_api
    let handle: UnsafeMutableRawPointer
    /// The math type asked for: FMA only (float32) or default (TF32 allowed).
    let mathType: Int32
    /// The most workspace one convolution may use, in bytes.
    let workspaceLimit: Int
    private let plans = Mutex<[Conv2DGeometry: Plan?]>([:])
    /// Set by `close` (under the plans' lock).
    private nonisolated(unsafe) var closed = false

    /// A handle on `stream`, or nil when this cuDNN lacks the convolution API or refuses a handle.
    init?(api: sbcl_cudnn_api, stream: UnsafeMutableRawPointer, tf32: Bool, workspaceLimit: Int) {
        var table = api
        guard sbcl_cudnn_has_convolutions(&table) != 0 else { return nil }
        var handle: UnsafeMutableRawPointer?
        guard api.create!(&handle) == 0, let handle else { return nil }
        guard api.setStream!(handle, stream) == 0 else { _ = api.destroy!(handle); return nil }
        self.api = api
        self.handle = handle
        self.mathType = tf32 ? Int32(SBCL_CUDNN_DEFAULT_MATH) : Int32(SBCL_CUDNN_FMA_MATH)
        self.workspaceLimit = workspaceLimit
    }

    deinit { close() }

    /// Destroys the descriptors and the handle (the backend calls it before it lets its context go).
    func close() {
        let (all, open) = plans.withLock { table -> ([Plan], Bool) in
            defer { table = [:]; closed = true }
            return (table.values.compactMap { $0 }, !closed)
        }
        guard open else { return }
        for plan in all {
            _ = api.destroyTensorDescriptor!(plan.x)
            _ = api.destroyTensorDescriptor!(plan.y)
            _ = api.destroyFilterDescriptor!(plan.w)
            for descriptor in plan.convolutions.values { _ = api.destroyConvolutionDescriptor!(descriptor) }
        }
        _ = api.destroy!(handle)
    }

    /// cuDNN's name for `status`.
    func text(_ status: Int32) -> String {
        guard let message = api.getErrorString?(status) else { return "status \(status)" }
        return String(cString: message)
    }

    /// The plan and choice for `g` in `direction`, measured on first use; nil when cuDNN cannot
    /// run it (the caller uses im2col).
    func choice(_ g: Conv2DGeometry, _ direction: Direction) -> (Plan, Choice)? {
        plans.withLock { table -> (Plan, Choice)? in
            let plan: Plan
            if let known = table[g] {
                guard let known else { return nil }
                plan = known
            } else {
                guard let made = makePlan(g) else { table[g] = .some(nil); return nil }
                table[g] = made
                plan = made
            }
            if let known = plan.choices[direction] { return known.map { (plan, $0) } }
            let found = find(plan, direction)
            plan.choices[direction] = .some(found)
            if let found { _ = api.setConvolutionMathType!(plan.convolutions[direction]!, found.mathType) }
            return found.map { (plan, $0) }
        }
    }

    /// Every geometry and direction measured so far and what was chosen, for logs and the bench.
    var choices: [String] {
        plans.withLock { table in
            table.sorted { $0.key.description < $1.key.description }.flatMap { geometry, plan -> [String] in
                guard let plan else { return ["\(geometry): im2col (cuDNN refused the descriptors)"] }
                return Direction.allCases.compactMap { direction in
                    guard let choice = plan.choices[direction] else { return nil }
                    guard let choice else { return "\(geometry) \(direction.rawValue): im2col (no cuDNN algorithm fits)" }
                    return "\(geometry) \(direction.rawValue): algorithm \(choice.algorithm), math \(choice.mathType), "
                        + "\(choice.workspace >> 20) MiB workspace, \(choice.milliseconds) ms measured"
                        + (choice.deterministic ? "" : ", not deterministic")
                }
            }
        }
    }

    private func makePlan(_ g: Conv2DGeometry) -> Plan? {
        let sizes = [g.batch, g.inputChannels, g.inputHeight, g.inputWidth, g.outputChannels, g.outputHeight, g.outputWidth]
        guard sizes.allSatisfy({ $0 > 0 && $0 <= Int(Int32.max) }),
              g.batch * g.inputHeight * g.inputWidth * g.inputChannels <= Int(Int32.max),
              g.batch * g.outputHeight * g.outputWidth * g.outputChannels <= Int(Int32.max) else { return nil }
        var x: UnsafeMutableRawPointer?, y: UnsafeMutableRawPointer?, w: UnsafeMutableRawPointer?
        var made: [UnsafeMutableRawPointer] = []
        var convolutions: [Direction: UnsafeMutableRawPointer] = [:]
        let nhwc = Int32(SBCL_CUDNN_TENSOR_NHWC), float = Int32(SBCL_CUDNN_DATA_FLOAT)
        var ok = api.createTensorDescriptor!(&x) == 0 && api.createTensorDescriptor!(&y) == 0
            && api.createFilterDescriptor!(&w) == 0
        if ok, let x, let y, let w {
            ok = api.setTensor4dDescriptor!(x, nhwc, float, Int32(g.batch), Int32(g.inputChannels), Int32(g.inputHeight),
                                             Int32(g.inputWidth)) == 0
                && api.setTensor4dDescriptor!(y, nhwc, float, Int32(g.batch), Int32(g.outputChannels), Int32(g.outputHeight),
                                               Int32(g.outputWidth)) == 0
                && api.setFilter4dDescriptor!(w, float, nhwc, Int32(g.outputChannels), Int32(g.inputChannels),
                                               Int32(g.kernelHeight), Int32(g.kernelWidth)) == 0
        }
        for direction in Direction.allCases where ok {
            var descriptor: UnsafeMutableRawPointer?
            ok = api.createConvolutionDescriptor!(&descriptor) == 0
            guard ok, let descriptor else { break }
            made.append(descriptor)
            convolutions[direction] = descriptor
            ok = api.setConvolution2dDescriptor!(descriptor, Int32(g.paddingHeight), Int32(g.paddingWidth), Int32(g.strideHeight),
                                                 Int32(g.strideWidth), 1, 1, Int32(SBCL_CUDNN_CROSS_CORRELATION), float) == 0
                && api.setConvolutionMathType!(descriptor, mathType) == 0
        }
        if ok, let x, let y, let w { return Plan(x: x, y: y, w: w, convolutions: convolutions) }
        if let x { _ = api.destroyTensorDescriptor!(x) }
        if let y { _ = api.destroyTensorDescriptor!(y) }
        if let w { _ = api.destroyFilterDescriptor!(w) }
        for descriptor in made { _ = api.destroyConvolutionDescriptor!(descriptor) }
        return nil
    }

    /// Measures `direction`'s algorithms for `plan` (cuDNN allocates its own scratch tensors) and
    /// picks one.
    private func find(_ plan: Plan, _ direction: Direction) -> Choice? {
        var results = [sbcl_cudnn_algorithm_performance](repeating: sbcl_cudnn_algorithm_performance(), count: 16)
        var returned: Int32 = 0
        let convolution = plan.convolutions[direction]!
        let status: Int32 = results.withUnsafeMutableBufferPointer { buffer in
            switch direction {
            case .forward: api.findForward!(handle, plan.x, plan.w, convolution, plan.y, Int32(buffer.count), &returned, buffer.baseAddress)
            case .backwardData: api.findBackwardData!(handle, plan.w, plan.y, convolution, plan.x, Int32(buffer.count), &returned, buffer.baseAddress)
            case .backwardFilter: api.findBackwardFilter!(handle, plan.x, plan.y, convolution, plan.w, Int32(buffer.count), &returned, buffer.baseAddress)
            }
        }
        guard status == 0 else { return nil }
        let usable = results.prefix(Int(returned)).filter { r in
            // float32 keeps FMA math only (a TF32 result would break the float32 promise).
            r.status == 0 && r.memory <= workspaceLimit && (mathType != Int32(SBCL_CUDNN_FMA_MATH) || r.mathType == mathType)
        }
        // Fastest first (cuDNN's order); deterministic ones preferred.
        guard let best = usable.first(where: { $0.determinism == Int32(SBCL_CUDNN_DETERMINISTIC) }) ?? usable.first else { return nil }
        return Choice(algorithm: best.algorithm, workspace: best.memory, mathType: best.mathType, milliseconds: best.milliseconds,
                      deterministic: best.determinism == Int32(SBCL_CUDNN_DETERMINISTIC))
    }
}
