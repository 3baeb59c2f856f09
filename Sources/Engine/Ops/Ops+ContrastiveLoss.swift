/// The batch-side inputs of a first-stage contrastive loss: per-image labels and subclass ids,
/// and the class temperatures in force.
public struct ContrastiveTargets {
    public var labels: [Int32]
    public var subclasses: [Int32]
    public var classTemperatures: [Float]

    public init(labels: [Int32], subclasses: [Int32] = [], classTemperatures: [Float] = []) {
        self.labels = labels
        self.subclasses = subclasses
        self.classTemperatures = classTemperatures
    }
}

extension Tensor {
    /// A contrastive loss (SupCon, SBCL rank or CCL) of view-major projections z [2B, D]
    /// (rows 0..<B the first views, B..<2B the second), computed by the fused sgemm kernel.
    public static func contrastiveLoss(_ z: Tensor, _ loss: ContrastiveLoss, _ targets: ContrastiveTargets) -> Tensor {
        precondition(z.rank == 2 && z.shape[0] == 2 * targets.labels.count,
                     "contrastiveLoss: features \(z.shape) do not hold two views of \(targets.labels.count) images")
        var gradient: [Float] = []
        let value = loss.valueAndGradient(features: z.scalars, labels: targets.labels, subclasses: targets.subclasses,
                                          classTemperatures: targets.classTemperatures, gradient: &gradient)
        let shape = z.shape
        let out = Tensor(scalar: value, on: z.backend)
        if !z.storage.isHost {
            // The documented host fallback on a device (docs/opencl.md): z comes down above (one
            // download), the loss and its gradient go up (two uploads), and g stays on the device.
            return recorded(out, op: .contrastiveLoss, inputs: [z]) { g, _ in
                [zipBroadcast(Tensor(gradient, shape: shape, on: g.backend), g, "contrastiveLoss", .multiply, *)]
            }
        }
        return recorded(out, op: .contrastiveLoss, inputs: [z]) { g, _ in
            [Tensor(gradient, shape: shape, on: g.backend).scaled(by: g.item)]
        }
    }
}
