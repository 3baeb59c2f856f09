import Foundation

/// Learning rates as functions of the epoch (counted from 1) and the step within it.
public enum LearningRateSchedule: Equatable, Sendable {
    /// The first stage's schedule as the SBCL reference runs it (SimCLR/main.py, whose epoch loop
    /// counts from 0): epoch e (ours, from 1) is the reference's epoch k = e − 1 and gets the
    /// cosine value base·decay⁴ + (base − base·decay⁴)(1 + cos(π k / epochs)) / 2 — the full rate
    /// in the first epoch, not yet the floor in the last.
    ///
    /// With a warm-up, the reference's `warmup_learning_rate` then runs per step while k ≤
    /// `warmupEpochs`: from `warmupFrom` linearly towards the cosine value at k = warmupEpochs
    /// computed with base·decay³ as its floor (the reference's own inconsistency, kept), at
    /// p = (step + (k − 1)·steps) / (warmupEpochs·steps). In its first epoch (k = 0) p is negative,
    /// which gives a rate below `warmupFrom` that turns negative — a bug we do not copy: p is held
    /// at 0 there, so the first epoch trains at `warmupFrom`.
    case supConCosine(base: Float, epochs: Int, decayRate: Float, warmupEpochs: Int, warmupFrom: Float)
    /// Linear ramp over `warmupEpochs`, then ×`factor` after each milestone m, i.e. from epoch
    /// m + 1 on (`SimCLR/linear_classify.py`'s `epoch > 140`, `epoch > 180`: milestones 140 and 180,
    /// factor 0.1). `moco/linear_classify.py`'s `epoch + 1 >= m` (epoch from 0) decays from our
    /// epoch m, so its `--schedule 20 30` is milestones 19 and 29 here (recipes/imagenet_lt.yaml).
    case warmupMultiStep(base: Float, warmupEpochs: Int, milestones: [Int], factor: Float)
    /// Linear warm-up by epoch, then cosine decay to zero (the `cb` classifier of the reference).
    case warmupCosine(base: Float, epochs: Int, warmupEpochs: Int)
    /// A constant rate.
    case constant(Float)

    /// `value` as the shortest decimal that rounds to it, in Double: what Python holds for a rate
    /// or factor written in a recipe or on a command line.
    static func decimal(_ value: Float) -> Double { Double("\(value)") ?? Double(value) }

    /// The rate for step `step` (0-based) of epoch `epoch` (1-based) with `stepsPerEpoch` steps.
    public func rate(epoch: Int, step: Int, stepsPerEpoch: Int) -> Float {
        switch self {
        case .constant(let lr):
            return lr
        case let .supConCosine(base, epochs, decay, warmupEpochs, warmupFrom):
            // In Double, as Python computes the reference's rates; rounded to Float once.
            let (base, decay) = (Double(base), Double(decay))
            func cosine(_ e: Int, floorPower: Double) -> Double {
                let etaMin = base * Foundation.pow(decay, floorPower)
                return etaMin + (base - etaMin) * (1 + Foundation.cos(.pi * Double(e) / Double(epochs))) / 2
            }
            let k = epoch - 1
            if warmupEpochs > 0 && k <= warmupEpochs {
                let (from, to) = (Double(warmupFrom), cosine(warmupEpochs, floorPower: 3))
                let p = Double(Swift.max(0, step + (k - 1) * stepsPerEpoch)) / Double(warmupEpochs * Swift.max(stepsPerEpoch, 1))
                return Float(from + p * (to - from))
            }
            return Float(cosine(k, floorPower: 4))
        case let .warmupMultiStep(base, warmupEpochs, milestones, factor):
            if epoch <= warmupEpochs { return base * Float(epoch) / Float(Swift.max(warmupEpochs, 1)) }
            // In Double from the values as the recipe spells them (0.1, not Float(0.1) widened),
            // ×factor milestone by milestone as the references' `lr *= 0.1`; rounded to Float once
            // (in Float, 10 · 0.1² came out one ulp above the reference's Float(0.1)).
            var rate = Self.decimal(base)
            for milestone in milestones where epoch > milestone { rate *= Self.decimal(factor) }
            return Float(rate)
        case let .warmupCosine(base, epochs, warmupEpochs):
            if epoch <= warmupEpochs { return base * Float(epoch) / Float(Swift.max(warmupEpochs, 1)) }
            let t = Float(epoch - warmupEpochs) / Float(Swift.max(epochs - warmupEpochs, 1))
            return base * (1 + Foundation.cos(.pi * t)) / 2
        }
    }
}
