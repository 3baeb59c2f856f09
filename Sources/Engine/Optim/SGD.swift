/// Stochastic gradient descent with momentum, weight decay and optional Nesterov momentum, in
/// PyTorch's formulation: d = g + λ·p; b = μ·b + (1 − dampening)·d (b = d on the first step);
/// d = d + μ·b with Nesterov, else d = b; p = p − lr·d.
public final class SGD {
    public var learningRate: Float
    public let momentum: Float, weightDecay: Float, dampening: Float, nesterov: Bool
    /// The parameters updated, with their names (the keys of the momentum buffers).
    public let parameters: [(name: String, parameter: Parameter)]
    /// Momentum buffers by parameter name; saved and restored with checkpoints. For parameters on
    /// a device the live buffers are `deviceMomentumBuffers`: call `downloadMomentumBuffers()`
    /// before reading these; setting them (a restored checkpoint) replaces the device's copies.
    public var momentumBuffers: [String: [Float]] = [:] {
        didSet { if !downloading { deviceMomentumBuffers = [:] } }
    }
    private var downloading = false

    public init(parameters: [(name: String, parameter: Parameter)], learningRate: Float, momentum: Float = 0,
                weightDecay: Float = 0, dampening: Float = 0, nesterov: Bool = false) {
        precondition(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov needs momentum > 0 and no dampening")
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.dampening = dampening
        self.nesterov = nesterov
    }

    /// Momentum buffers of parameters on a device, by name; `momentumBuffers` holds them only
    /// when `downloadMomentumBuffers()` is called (checkpoints).
    public var deviceMomentumBuffers: [String: Tensor] = [:]

    /// Copies the device momentum buffers into `momentumBuffers` (before saving a checkpoint).
    public func downloadMomentumBuffers() {
        downloading = true
        defer { downloading = false }
        for (name, buffer) in deviceMomentumBuffers { momentumBuffers[name] = buffer.scalars }
    }

    /// One parameter's update in the device's kernel; the buffer stays on the device (uploaded
    /// once from `momentumBuffers` when a restored checkpoint holds it).
    private func stepOnDevice(_ device: any DeviceKernels, name: String, parameter: Parameter, gradient: Tensor) {
        var firstStep = false
        let buffer: Tensor
        if let existing = deviceMomentumBuffers[name] {
            buffer = existing
        } else if let host = momentumBuffers[name] {
            buffer = Tensor(host, shape: gradient.shape, on: device)
        } else {
            buffer = Tensor(uninitializedShape: gradient.shape, on: device)
            firstStep = true
        }
        if momentum != 0 { deviceMomentumBuffers[name] = buffer }
        device.sgdStep(parameter: parameter.value.storage, gradient: gradient.storage, buffer: buffer.storage, count: gradient.count,
                       learningRate: learningRate, momentum: momentum, weightDecay: weightDecay, dampening: dampening,
                       nesterov: nesterov, firstStep: firstStep)
    }

    /// Updates every parameter that has a gradient in `gradients`; the others are left alone
    /// (PyTorch skips parameters whose `.grad` is None).
    public func step(_ gradients: Gradients) {
        for (name, parameter) in parameters {
            guard let grad = gradients[parameter.value] else { continue }
            if let device = grad.deviceKernels(for: .add) {
                stepOnDevice(device, name: name, parameter: parameter, gradient: grad)
                continue
            }
            let n = grad.count
            let hadBuffer = momentumBuffers[name] != nil
            var buffer = momentumBuffers[name] ?? []
            let (lr, mu, wd, damp, nest) = (learningRate, momentum, weightDecay, dampening, nesterov)
            parameter.value.withMutableFloats { p in
                grad.withFloats { g in
                    if mu != 0 && !hadBuffer { buffer = [Float](repeating: 0, count: n) }
                    buffer.withUnsafeMutableBufferPointer { b in
                        for i in 0..<n {
                            var d = g[i] + wd * p[i]
                            if mu != 0 {
                                b[i] = hadBuffer ? mu * b[i] + (1 - damp) * d : d
                                d = nest ? d + mu * b[i] : b[i]
                            }
                            p[i] -= lr * d
                        }
                    }
                }
            }
            if mu != 0 { momentumBuffers[name] = buffer }
        }
    }
}
