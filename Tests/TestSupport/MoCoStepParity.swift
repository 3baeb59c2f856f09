import Engine

/// One MoCo v2 step (ResNet-50 query and key encoders, the momentum update, logits against the
/// queue, the enqueue, KCL with fixed draws, SGD) on a device beside the CPU backend, with the
/// CPU's own sensitivity as the yardstick: the same step on the CPU with both crops scaled by
/// (1 + 1e-6) — ten or so float32 roundings — shows how far rounding alone can move each
/// result. With few values per batch-norm channel (a batch of 4 at 32 px leaves 4 values per
/// channel in layer 4) the step is ill-conditioned and that sensitivity is large; with more it is
/// small. The GPU tests assert the device stays within the larger of a floor and twice it.
public struct MoCoStepParity {
    /// The worst error of one result and where, beside the CPU's sensitivity for it.
    public struct Figure: CustomStringConvertible {
        public var device: Float, sensitivity: Float, at: String
        /// Whether the device is within `max(floor, factor × sensitivity)`.
        public func holds(floor: Float = 1e-4, factor: Float = 2) -> Bool { device <= max(floor, factor * sensitivity) }
        public var description: String { "\(device) (CPU's own sensitivity \(sensitivity)) at \(at)" }
    }

    /// The loss before the update (relative error).
    public var loss: Figure
    /// The query encoder's parameters after the SGD step (normwise per tensor, worst tensor).
    public var query: Figure
    /// The key encoder's parameters after the momentum update (normwise, worst tensor).
    public var key: Figure
    /// The queue after the enqueue (normwise).
    public var queue: Figure
    /// Every figure, for messages.
    public var all: [(String, Figure)] { [("loss", loss), ("query encoder", query), ("key encoder", key), ("queue", queue)] }

    /// Runs the step on the CPU, on the CPU with perturbed crops, and on `device`.
    public init(device: any Backend, size: Int, batch: Int, seed: UInt32 = 21) {
        var random = TestRandom(seed: seed)
        let queryCrops = random.tensor([batch, size, size, 3], -1, 1), keyCrops = random.tensor([batch, size, size, 3], -1, 1)
        let labels = (0..<batch).map { Int32($0 % 3) }
        let uniforms = (0..<6 * batch).map { Float($0 % 7) / 7 + 0.05 }
        let queueSize = 16 * batch
        func run(on backend: any Backend, scale: Float) -> (MoCo, Float) {
            let model = MoCo(.resnet50, queueSize: queueSize, seed: 5)
            model.move(to: backend)
            let optimizer = SGD(parameters: model.queryParameters, learningRate: 0.03, momentum: 0.9, weightDecay: 1e-4)
            let factor = Tensor([scale], shape: [1])
            let output = model.forward(query: (queryCrops * factor).moved(to: backend), key: (keyCrops * factor).moved(to: backend),
                                       subclassLabels: [Int](repeating: -1, count: batch), classLabels: labels.map(Int.init),
                                       training: true)
            let targets = MoCoTargets(labels: labels, queueLabels: output.queueClass.map(Int32.init), uniforms: uniforms)
            let value = Tensor.mocoLoss(output.logits, MoCoLoss(.kclDefault, maxThreads: 2), targets)
            let loss = value.item
            optimizer.step(value.gradients())
            return (model, loss)
        }
        let (cpu, cpuLoss) = run(on: CPUBackend.shared, scale: 1)
        let (moved, movedLoss) = run(on: CPUBackend.shared, scale: 1 + 1e-6)
        let (gpu, gpuLoss) = run(on: device, scale: 1)
        func relative(_ a: Float) -> Float { abs(a - cpuLoss) / abs(cpuLoss) }
        loss = Figure(device: relative(gpuLoss), sensitivity: relative(movedLoss), at: "\(gpuLoss) vs \(cpuLoss)")
        func worst(_ pick: (MoCo) -> ResNetImageNet) -> Figure {
            var figure = Figure(device: 0, sensitivity: 0, at: "-")
            for (((name, c), (_, m)), (_, g)) in zip(zip(pick(cpu).namedParameters, pick(moved).namedParameters),
                                                     pick(gpu).namedParameters) {
                let error = normwiseError(g.value, c.value)
                figure.sensitivity = max(figure.sensitivity, normwiseError(m.value, c.value))
                if error > figure.device { figure.device = error; figure.at = name }
            }
            return figure
        }
        self.query = worst { $0.encoderQuery }
        self.key = worst { $0.encoderKey }
        queue = Figure(device: normwiseError(gpu.queue, cpu.queue), sensitivity: normwiseError(moved.queue, cpu.queue), at: "queue")
    }
}

/// The largest |device − reference| over a tensor relative to the tensor's largest |reference|
/// value: a gradient's or weight's elements near zero carry the rounding of the big ones, so each
/// tensor is compared as a whole.
public func normwiseError(_ device: Tensor, _ reference: Tensor) -> Float {
    let d = device.scalars, r = reference.scalars
    let scale = r.map(abs).max() ?? 0
    let worst = zip(d, r).map { abs($0 - $1) }.max() ?? 0
    return scale == 0 ? worst : worst / scale
}
