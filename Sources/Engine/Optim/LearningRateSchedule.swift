import Foundation

/// Learning rates as functions of the epoch (counted from 1) and the step within it.
public enum LearningRateSchedule: Equatable, Sendable {
    /// The first stage's schedule (SupContrast / the SBCL reference): cosine decay from `base`
    /// to base·decay⁴ over `epochs`, with an optional linear warm-up from `warmupFrom` over the
    /// first `warmupEpochs` epochs towards the cosine value at the warm-up's end computed with
    /// base·decay³ as its floor (the reference's own inconsistency, kept for fidelity).
    case supConCosine(base: Float, epochs: Int, decayRate: Float, warmupEpochs: Int, warmupFrom: Float)
    /// Linear ramp over `warmupEpochs`, then ×`factor` at each milestone (the LDAM-DRW schedule:
    /// milestones 140 and 180, factor 0.1).
    case warmupMultiStep(base: Float, warmupEpochs: Int, milestones: [Int], factor: Float)
    /// Linear warm-up by epoch, then cosine decay to zero (the `cb` classifier of the reference).
    case warmupCosine(base: Float, epochs: Int, warmupEpochs: Int)
    /// A constant rate.
    case constant(Float)

    /// The rate for step `step` (0-based) of epoch `epoch` (1-based) with `stepsPerEpoch` steps.
    public func rate(epoch: Int, step: Int, stepsPerEpoch: Int) -> Float {
        switch self {
        case .constant(let lr):
            return lr
        case let .supConCosine(base, epochs, decay, warmupEpochs, warmupFrom):
            func cosine(_ e: Int, floorPower: Float) -> Float {
                let etaMin = base * Foundation.pow(decay, floorPower)
                return etaMin + (base - etaMin) * (1 + Foundation.cos(.pi * Float(e) / Float(epochs))) / 2
            }
            if warmupEpochs > 0 && epoch <= warmupEpochs {
                let to = cosine(warmupEpochs, floorPower: 3)
                let p = Float(step + (epoch - 1) * stepsPerEpoch) / Float(warmupEpochs * Swift.max(stepsPerEpoch, 1))
                return warmupFrom + p * (to - warmupFrom)
            }
            return cosine(epoch, floorPower: 4)
        case let .warmupMultiStep(base, warmupEpochs, milestones, factor):
            if epoch <= warmupEpochs { return base * Float(epoch) / Float(Swift.max(warmupEpochs, 1)) }
            let passed = milestones.filter { epoch > $0 }.count
            return base * Foundation.pow(factor, Float(passed))
        case let .warmupCosine(base, epochs, warmupEpochs):
            if epoch <= warmupEpochs { return base * Float(epoch) / Float(Swift.max(warmupEpochs, 1)) }
            let t = Float(epoch - warmupEpochs) / Float(Swift.max(epochs - warmupEpochs, 1))
            return base * (1 + Foundation.cos(.pi * t)) / 2
        }
    }
}
