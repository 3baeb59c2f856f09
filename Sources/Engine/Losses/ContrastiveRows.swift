import Foundation

/// The per-anchor (row) part of `ContrastiveLoss`: each term's log-softmax over its denominator
/// set, averaged over its positives, and the term's d loss / d s_ij written into row i of the
/// coefficient matrix G. Rows are independent, so threads take disjoint row ranges.
struct ContrastiveRows {
    let n: Int
    let batch: Int
    let similarity: UnsafeBufferPointer<Float>
    let labels: UnsafeBufferPointer<Int32>
    let subclasses: UnsafeBufferPointer<Int32>
    let classTemperature: UnsafeBufferPointer<Float>
    /// G (n × n), or nil when only the value is wanted.
    let coefficients: UnsafeMutableBufferPointer<Float>?
    /// 1 / n: the mean over anchors.
    let scale: Float

    /// Σ over terms of anchor i's loss, before the mean over anchors; fills row i of G.
    /// `scratch` holds n floats private to the calling thread.
    func anchorLoss(_ i: Int, terms: [ContrastiveTerm], scratch: UnsafeMutableBufferPointer<Float>) -> Double {
        let row = UnsafeBufferPointer(rebasing: similarity[(i * n)..<(i * n + n)])
        var rowMax = -Float.infinity
        for j in 0..<n where row[j] > rowMax { rowMax = row[j] }
        if let g = coefficients {
            for j in 0..<n { g[i * n + j] = 0 }
        }
        var total = 0.0
        for term in terms { total += termLoss(i, row: row, rowMax: rowMax, term: term, scratch: scratch) }
        return total
    }

    @inline(__always)
    private func isPositive(_ i: Int, _ j: Int, other: Int, _ rule: ContrastiveTerm.Positives) -> Bool {
        if j == i { return false }
        switch rule {
        case .sameClass: return labels[j] == labels[i]
        case .sameSubclass: return subclasses[j] == subclasses[i]
        case .otherViewOrSameClassOtherSubclass:
            return j == other || (subclasses[j] != subclasses[i] && labels[j] == labels[i])
        }
    }

    @inline(__always)
    private func inDenominator(_ i: Int, _ j: Int, other: Int, _ rule: ContrastiveTerm.Denominator) -> Bool {
        switch rule {
        case .allOthers: return j != i
        case .otherViewOrOtherSubclass: return j == other || subclasses[j] != subclasses[i]
        }
    }

    private func termLoss(_ i: Int, row: UnsafeBufferPointer<Float>, rowMax: Float, term: ContrastiveTerm,
                          scratch: UnsafeMutableBufferPointer<Float>) -> Double {
        let t: Float
        switch term.temperature {
        case let .global(value): t = value
        case .anchorClass: t = classTemperature[i]
        }
        let inverseT = 1 / t
        let other = i < batch ? i + batch : i - batch
        // Logits shifted by the row maximum (over all j, as the reference does) before exp;
        // scratch keeps exp(logit) on the denominator set for the gradient pass.
        var sumExp = 0.0
        var sumPositive = 0.0
        var positives = 0
        for j in 0..<n {
            let logit = (row[j] - rowMax) * inverseT
            let e: Float = inDenominator(i, j, other: other, term.denominator) ? expf(logit) : 0
            scratch[j] = e
            sumExp += Double(e)
            if isPositive(i, j, other: other, term.positives) {
                sumPositive += Double(logit)
                positives += 1
            }
        }
        precondition(positives > 0, "ContrastiveLoss: anchor \(i) has no positive (two views give at least one)")
        let loss = -Double(term.weight) * (sumPositive / Double(positives) - log(sumExp))
        if let g = coefficients {
            // d/ds_ij of −w·(mean_P logit − log Σ_D exp) = (w/t)·(softmax_D(j) − [j∈P]/|P|).
            let factor = term.weight * inverseT * scale
            let probabilityFactor = factor * Float(1 / sumExp)
            let positiveStep = factor / Float(positives)
            let out = g.baseAddress! + i * n
            for j in 0..<n {
                var d = scratch[j] * probabilityFactor
                if isPositive(i, j, other: other, term.positives) { d -= positiveStep }
                out[j] += d
            }
        }
        return loss
    }
}
