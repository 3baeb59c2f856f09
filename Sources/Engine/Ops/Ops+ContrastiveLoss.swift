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
    /// (rows 0..<B the first views, B..<2B the second), computed by the fused sgemm kernel on the
    /// CPU, and on a device by its GEMMs and its `contrastiveRows` kernel with only the anchors'
    /// labels, subclasses and temperatures uploaded (docs/opencl.md, docs/cuda.md).
    public static func contrastiveLoss(_ z: Tensor, _ loss: ContrastiveLoss, _ targets: ContrastiveTargets) -> Tensor {
        precondition(z.rank == 2 && z.shape[0] == 2 * targets.labels.count,
                     "contrastiveLoss: features \(z.shape) do not hold two views of \(targets.labels.count) images")
        if !z.storage.isHost, let device = z.backend as? any DeviceKernels, device.supports(.contrastiveLoss) {
            return deviceContrastiveLoss(device, z, loss.kind, targets)
        }
        var gradient: [Float] = []
        let value = loss.valueAndGradient(features: z.scalars, labels: targets.labels, subclasses: targets.subclasses,
                                          classTemperatures: targets.classTemperatures, gradient: &gradient)
        let shape = z.shape
        let out = Tensor(scalar: value, on: z.backend)
        if !z.storage.isHost {
            // The host fallback for a device backend without the op's kernels: z comes down above
            // (one download), the loss and its gradient go up (two uploads), and g stays on the device.
            return recorded(out, op: .contrastiveLoss, inputs: [z]) { g, _ in
                [zipBroadcast(Tensor(gradient, shape: shape, on: g.backend), g, "contrastiveLoss", .multiply, *)]
            }
        }
        return recorded(out, op: .contrastiveLoss, inputs: [z]) { g, _ in
            [Tensor(gradient, shape: shape, on: g.backend).scaled(by: g.item)]
        }
    }

    /// The loss on `device`: S = Z·Zᵀ by `gemm`, each term's row pass into the row losses (already
    /// divided by 2B) and the coefficients G, the value their sum; the pullback (G + Gᵀ)·Z by two
    /// GEMMs, times the upstream scalar on the device. One upload: the anchors.
    private static func deviceContrastiveLoss(_ device: any DeviceKernels, _ z: Tensor, _ kind: ContrastiveLossKind,
                                              _ targets: ContrastiveTargets) -> Tensor {
        precondition(z.dtype == .float32 && !targets.labels.isEmpty,
                     "contrastiveLoss: features \(z.dtype) \(z.shape) are not float32 projections of a non-empty batch")
        let batch = targets.labels.count, n = 2 * batch, dimension = z.shape[1]
        let backend = z.backend
        let anchors = Tensor(int32: packedAnchors(kind, targets), shape: [batch, 3], on: backend)
        let similarity = Tensor(uninitializedShape: [n, n], on: backend)
        device.gemm(transposeA: false, transposeB: true, m: n, n: n, k: dimension, alpha: 1, a: z.storage, lda: dimension,
                    b: z.storage, ldb: dimension, beta: 0, c: similarity.storage, ldc: n)
        let rowLoss = Tensor(uninitializedShape: [n], on: backend), coefficients = Tensor(uninitializedShape: [n, n], on: backend)
        for (index, term) in kind.terms.enumerated() {
            device.contrastiveRows(similarity: similarity.storage, anchors: anchors.storage, n: n, batch: batch, term: term,
                                   scale: 1 / Float(n), accumulate: index > 0, rowLoss: rowLoss.storage,
                                   coefficients: coefficients.storage)
        }
        let out = withoutGradients { rowLoss.sum() }
        return recorded(out, op: .contrastiveLoss, inputs: [z]) { g, _ in
            // d loss / d Z = (G + Gᵀ)·Z, since s_ij = z_i · z_j.
            let gradient = Tensor(uninitializedShape: [n, dimension], on: g.backend)
            device.gemm(transposeA: false, transposeB: false, m: n, n: dimension, k: n, alpha: 1, a: coefficients.storage,
                        lda: n, b: z.storage, ldb: dimension, beta: 0, c: gradient.storage, ldc: dimension)
            device.gemm(transposeA: true, transposeB: false, m: n, n: dimension, k: n, alpha: 1, a: coefficients.storage,
                        lda: n, b: z.storage, ldb: dimension, beta: 1, c: gradient.storage, ldc: dimension)
            return [zipBroadcast(gradient, g, "contrastiveLoss", .multiply, *)]
        }
    }

    /// Per image: label, subclass (0 when the loss reads none) and the bit pattern of the class
    /// temperature (`ContrastiveLossKind.anchorTemperature`, as the host loss's anchors).
    private static func packedAnchors(_ kind: ContrastiveLossKind, _ targets: ContrastiveTargets) -> [Int32] {
        let batch = targets.labels.count
        if kind.usesSubclasses {
            precondition(targets.subclasses.count == batch,
                         "ContrastiveLoss(\(kind)): \(targets.subclasses.count) subclasses for \(batch) labels")
        }
        var packed = [Int32](repeating: 0, count: 3 * batch)
        for b in 0..<batch {
            let label = targets.labels[b]
            let t = kind.anchorTemperature(label: label, classTemperatures: targets.classTemperatures)
            packed[3 * b] = label
            packed[3 * b + 1] = kind.usesSubclasses ? targets.subclasses[b] : 0
            packed[3 * b + 2] = Int32(bitPattern: t.bitPattern)
        }
        return packed
    }
}
