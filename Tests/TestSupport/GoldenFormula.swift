import Engine

/// The closed formula scripts/goldens/resnet_imagenet_golden.py (and
/// scripts/fidelity/moco_trajectory_reference.py) sets every weight and input from, so that no weight
/// file is committed: a splitmix64 hash of (tensor index, element index) mapped
/// to u in [-1, 1), scaled by the kind of entry, evaluated in Double and rounded to Float.
public enum GoldenFormula {
    public static func uniform(_ t: Int, _ n: Int) -> [Double] {
        (0..<n).map { i in
            var x = UInt64(t) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(i) &* 0xBF58_476D_1CE4_E5B9 &+ 1
            x ^= x >> 30
            x = x &* 0xBF58_476D_1CE4_E5B9
            x ^= x >> 27
            x = x &* 0x94D0_49BB_1331_11EB
            x ^= x >> 31
            return Double(x >> 40) / Double(1 << 23) - 1
        }
    }

    public static func value(_ name: String, _ shape: [Int], _ t: Int) -> [Float] {
        let u = uniform(t, shape.reduce(1, *))
        if name.hasSuffix("weight") && shape.count >= 2 {
            let fanIn = Double(shape.dropFirst().reduce(1, *))
            let bound = shape.count == 4 ? (6 / fanIn).squareRoot() : 1 / fanIn.squareRoot()
            return u.map { Float($0 * bound) }
        }
        if name.hasSuffix("weight") || name.hasSuffix("running_var") { return u.map { Float(1 + 0.25 * $0) } }
        return u.map { Float(0.1 * $0) }
    }

    /// Sets every float entry of `module`'s state, t = offset + its index in state order.
    public static func setState(_ module: any Module, offset: Int = 0, parametersOnly: Bool = false) {
        for (t, entry) in module.state.enumerated() {
            switch entry.item {
            case .parameter(let p): p.assign(Tensor(value(entry.name, p.shape, offset + t), shape: p.shape))
            case .runningMean(let s) where !parametersOnly:
                s.runningMean = Tensor(value(entry.name, s.runningMean.shape, offset + t), shape: s.runningMean.shape)
            case .runningVariance(let s) where !parametersOnly:
                s.runningVariance = Tensor(value(entry.name, s.runningVariance.shape, offset + t), shape: s.runningVariance.shape)
            default: break
            }
        }
    }

    /// An NCHW input from the formula, as an NHWC tensor.
    public static func image(_ t: Int, _ shape: [Int]) -> Tensor {
        Tensor(uniform(t, shape.reduce(1, *)).map { Float($0) }, shape: shape).nchwToNHWC()
    }
}
