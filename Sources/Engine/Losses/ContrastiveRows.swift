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

    private func termLoss(_ i: Int, row: UnsafeBufferPointer<Float>, rowMax: Float, term: ContrastiveTerm,
                          scratch: UnsafeMutableBufferPointer<Float>) -> Double {
        // One specialised loop per set pair, so the inner loops carry no rule switch.
        switch (term.positives, term.denominator) {
        case (.sameClass, .allOthers):
            return termLoss(i, row: row, rowMax: rowMax, term: term, scratch: scratch, sets: ClassOverOthers.self)
        case (.sameSubclass, .allOthers):
            return termLoss(i, row: row, rowMax: rowMax, term: term, scratch: scratch, sets: SubclassOverOthers.self)
        case (.otherViewOrSameClassOtherSubclass, .otherViewOrOtherSubclass):
            return termLoss(i, row: row, rowMax: rowMax, term: term, scratch: scratch, sets: RankClassSets.self)
        default:
            return termLoss(i, row: row, rowMax: rowMax, term: term, scratch: scratch, sets: AnySets.self)
        }
    }

    private func termLoss<Sets: AnchorSets>(_ i: Int, row: UnsafeBufferPointer<Float>, rowMax: Float, term: ContrastiveTerm,
                                            scratch: UnsafeMutableBufferPointer<Float>, sets: Sets.Type) -> Double {
        let t: Float
        switch term.temperature {
        case let .global(value): t = value
        case .anchorClass: t = classTemperature[i]
        }
        let inverseT = 1 / t
        let anchor = Anchor(index: i, other: i < batch ? i + batch : i - batch, label: labels[i], subclass: subclasses[i],
                            positives: term.positives, denominator: term.denominator)
        // Logits shifted by the row maximum (over all j, as the reference does) before exp;
        // scratch keeps exp(logit) on the denominator set for the gradient pass.
        var sumExp = 0.0
        var sumPositive = 0.0
        var positives = 0
        for j in 0..<n {
            let logit = (row[j] - rowMax) * inverseT
            let e: Float = Sets.inDenominator(anchor, j, labels[j], subclasses[j]) ? expf(logit) : 0
            scratch[j] = e
            sumExp += Double(e)
            if Sets.isPositive(anchor, j, labels[j], subclasses[j]) {
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
                if Sets.isPositive(anchor, j, labels[j], subclasses[j]) { d -= positiveStep }
                out[j] += d
            }
        }
        return loss
    }
}

/// What a term's sets need to know about anchor i.
struct Anchor {
    let index: Int
    /// v(i): the other view of the same image.
    let other: Int
    let label: Int32
    let subclass: Int32
    let positives: ContrastiveTerm.Positives
    let denominator: ContrastiveTerm.Denominator
}

/// Membership of anchor j in a term's positive set P(i) and denominator set D(i).
protocol AnchorSets {
    static func isPositive(_ a: Anchor, _ j: Int, _ label: Int32, _ subclass: Int32) -> Bool
    static func inDenominator(_ a: Anchor, _ j: Int, _ label: Int32, _ subclass: Int32) -> Bool
}

/// SupCon's class term: P = same class, D = A(i).
enum ClassOverOthers: AnchorSets {
    @inline(__always) static func isPositive(_ a: Anchor, _ j: Int, _ label: Int32, _ subclass: Int32) -> Bool {
        j != a.index && label == a.label
    }
    @inline(__always) static func inDenominator(_ a: Anchor, _ j: Int, _ label: Int32, _ subclass: Int32) -> Bool {
        j != a.index
    }
}

/// L_sub: P = S(i) (same subclass), D = A(i).
enum SubclassOverOthers: AnchorSets {
    @inline(__always) static func isPositive(_ a: Anchor, _ j: Int, _ label: Int32, _ subclass: Int32) -> Bool {
        j != a.index && subclass == a.subclass
    }
    @inline(__always) static func inDenominator(_ a: Anchor, _ j: Int, _ label: Int32, _ subclass: Int32) -> Bool {
        j != a.index
    }
}

/// The rank loss's L_cls: P(i) = {v(i)} ∪ {same class, other subclass}, N(i) = {v(i)} ∪ {other subclass}.
enum RankClassSets: AnchorSets {
    @inline(__always) static func isPositive(_ a: Anchor, _ j: Int, _ label: Int32, _ subclass: Int32) -> Bool {
        j == a.other || (subclass != a.subclass && label == a.label)
    }
    @inline(__always) static func inDenominator(_ a: Anchor, _ j: Int, _ label: Int32, _ subclass: Int32) -> Bool {
        j == a.other || subclass != a.subclass
    }
}

/// Any other pairing of the rules, switched per element.
enum AnySets: AnchorSets {
    static func isPositive(_ a: Anchor, _ j: Int, _ label: Int32, _ subclass: Int32) -> Bool {
        if j == a.index { return false }
        switch a.positives {
        case .sameClass: return label == a.label
        case .sameSubclass: return subclass == a.subclass
        case .otherViewOrSameClassOtherSubclass: return j == a.other || (subclass != a.subclass && label == a.label)
        }
    }
    static func inDenominator(_ a: Anchor, _ j: Int, _ label: Int32, _ subclass: Int32) -> Bool {
        switch a.denominator {
        case .allOthers: return j != a.index
        case .otherViewOrOtherSubclass: return j == a.other || subclass != a.subclass
        }
    }
}
