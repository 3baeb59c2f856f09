import Foundation

/// Per-class margins and weights of the second stage (LDAM-DRW, Cao et al. 2019), as the authors'
/// `linear_classify.py` and `loss.py` compute them.
public enum ClassWeights {
    /// Effective-number weights w_c ∝ (1 − β) / (1 − β^{n_c}), normalised to sum to C, rounded
    /// to Float (`torch.FloatTensor`). β = 0.9999 in the reference (train_rule `DRW`).
    public static func effectiveNumber(classCounts: [Int], beta: Double = 0.9999) -> [Float] {
        precondition(!classCounts.isEmpty && classCounts.allSatisfy { $0 > 0 },
                     "ClassWeights.effectiveNumber: class counts must be positive, got \(classCounts)")
        precondition(beta >= 0 && beta < 1, "ClassWeights.effectiveNumber: beta \(beta) outside [0, 1)")
        let raw = classCounts.map { (1 - beta) / (1 - pow(beta, Double($0))) }
        let total = raw.reduce(0, +)
        return raw.map { Float($0 / total * Double(classCounts.count)) }
    }

    /// LDAM margins m_c ∝ n_c^(−1/4), scaled so the largest is `maxMargin` (0.5), rounded to Float.
    public static func ldamMargins(classCounts: [Int], maxMargin: Double = 0.5) -> [Float] {
        precondition(!classCounts.isEmpty && classCounts.allSatisfy { $0 > 0 },
                     "ClassWeights.ldamMargins: class counts must be positive, got \(classCounts)")
        let raw = classCounts.map { 1 / Double($0).squareRoot().squareRoot() }
        let largest = raw.max()!
        return raw.map { Float($0 * (maxMargin / largest)) }
    }
}
