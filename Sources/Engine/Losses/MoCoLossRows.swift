import Foundation

/// The per-query (row) part of `MoCoLoss`: one row's loss, and its row of d loss / d logits
/// written in place. Rows are independent, so threads take disjoint row ranges.
///
/// Every term is −w · mean_{p∈P} z_p + w · log Σ_{j∈D} exp z_j with z = (x − max x) / t, whose
/// derivative is (w / t) · (softmax_D(j) − [j ∈ P] / |P|); dividing by B gives the batch mean.
struct MoCoLossRows {
    let batch: Int
    /// 1 + K.
    let columns: Int
    let logits: UnsafeBufferPointer<Float>
    let gradient: UnsafeMutableBufferPointer<Float>?
    let labels: UnsafeBufferPointer<Int32>
    let subclasses: UnsafeBufferPointer<Int32>
    let queueLabels: UnsafeBufferPointer<Int32>
    let queueSubclasses: UnsafeBufferPointer<Int32>
    /// KCL's k, the stride of `sampled`.
    let draws: Int
    /// KCL's sampled queue indices, `sampledCount[i]` of them from `i · draws` on.
    let sampled: UnsafeBufferPointer<Int32>
    let sampledCount: UnsafeBufferPointer<Int32>

    /// Query i's loss (before the mean over queries); fills row i of the gradient when there is
    /// one. `scratch` holds 1 + K floats private to the calling thread.
    func loss(row i: Int, kind: MoCoLossKind, scratch: UnsafeMutableBufferPointer<Float>) -> Double {
        let x = logits.baseAddress! + i * columns
        var rowMax = -Float.infinity
        for j in 0..<columns where x[j] > rowMax { rowMax = x[j] }
        switch kind {
        case let .kcl(_, t): return kcl(i, x, rowMax, t, scratch)
        case let .ccl(t, gamma): return ccl(i, x, rowMax, t, gamma, scratch)
        case let .rank(t, classT, gamma): return rank(i, x, rowMax, t, classT, gamma, scratch)
        }
    }

    /// The key and the sampled same-class entries over all columns.
    private func kcl(_ i: Int, _ x: UnsafePointer<Float>, _ rowMax: Float, _ t: Float,
                     _ e: UnsafeMutableBufferPointer<Float>) -> Double {
        let inverseT = 1 / t
        var sumExp = 0.0
        for j in 0..<columns {
            let v = expf((x[j] - rowMax) * inverseT)
            e[j] = v
            sumExp += Double(v)
        }
        let first = i * draws, taken = Int(sampledCount[i])
        var sumPositive = Double((x[0] - rowMax) * inverseT)
        for s in first..<(first + taken) { sumPositive += Double((x[Int(sampled[s]) + 1] - rowMax) * inverseT) }
        let positives = Double(1 + taken)
        if let g = gradient {
            let out = g.baseAddress! + i * columns
            let factor = inverseT / Float(batch)
            let probability = factor * Float(1 / sumExp)
            for j in 0..<columns { out[j] = e[j] * probability }
            let step = factor / Float(positives)
            out[0] -= step
            for s in first..<(first + taken) { out[Int(sampled[s]) + 1] -= step }
        }
        return log(sumExp) - sumPositive / positives
    }

    /// L_sub (key + same subclass) + γ · L_cls (key + same class), both over all columns at τ.
    private func ccl(_ i: Int, _ x: UnsafePointer<Float>, _ rowMax: Float, _ t: Float, _ gamma: Float,
                     _ e: UnsafeMutableBufferPointer<Float>) -> Double {
        let inverseT = 1 / t
        let label = labels[i], subclass = subclasses[i]
        let z0 = Double((x[0] - rowMax) * inverseT)
        let e0 = expf((x[0] - rowMax) * inverseT)
        e[0] = e0
        var sumExp = Double(e0), sumSub = z0, sumClass = z0, countSub = 1, countClass = 1
        for j in 1..<columns {
            let z = (x[j] - rowMax) * inverseT
            let v = expf(z)
            e[j] = v
            sumExp += Double(v)
            if queueSubclasses[j - 1] == subclass { sumSub += Double(z); countSub += 1 }
            if queueLabels[j - 1] == label { sumClass += Double(z); countClass += 1 }
        }
        if let g = gradient {
            let out = g.baseAddress! + i * columns
            let factor = inverseT / Float(batch)
            let probability = (1 + gamma) * factor * Float(1 / sumExp)
            let subStep = factor / Float(countSub), classStep = gamma * factor / Float(countClass)
            out[0] = e[0] * probability - subStep - classStep
            for j in 1..<columns {
                var d = e[j] * probability
                if queueSubclasses[j - 1] == subclass { d -= subStep }
                if queueLabels[j - 1] == label { d -= classStep }
                out[j] = d
            }
        }
        let lse = log(sumExp)
        return (lse - sumSub / Double(countSub)) + Double(gamma) * (lse - sumClass / Double(countClass))
    }

    /// L_sub at τ over all columns, + γ · L_cls at τ_c with positives = key + same class of another
    /// subclass and denominator = key + every entry of another subclass.
    private func rank(_ i: Int, _ x: UnsafePointer<Float>, _ rowMax: Float, _ t: Float, _ classT: Float, _ gamma: Float,
                      _ classExp: UnsafeMutableBufferPointer<Float>) -> Double {
        let inverseT = 1 / t, inverseClassT = 1 / classT
        let label = labels[i], subclass = subclasses[i]
        let out = gradient.map { $0.baseAddress! + i * columns }
        // exp at τ goes straight into the gradient row when there is one (overwritten below).
        let e0 = expf((x[0] - rowMax) * inverseT), c0 = expf((x[0] - rowMax) * inverseClassT)
        out?[0] = e0
        classExp[0] = c0
        let z0 = Double((x[0] - rowMax) * inverseT), zc0 = Double((x[0] - rowMax) * inverseClassT)
        var sumExp = Double(e0), sumSub = z0, countSub = 1
        var sumClassExp = Double(c0), sumClass = zc0, countClass = 1
        for j in 1..<columns {
            let shifted = x[j] - rowMax
            let z = shifted * inverseT
            let v = expf(z)
            out?[j] = v
            sumExp += Double(v)
            if queueSubclasses[j - 1] == subclass {
                sumSub += Double(z); countSub += 1
                classExp[j] = 0
            } else {
                let zc = shifted * inverseClassT
                let c = expf(zc)
                classExp[j] = c
                sumClassExp += Double(c)
                if queueLabels[j - 1] == label { sumClass += Double(zc); countClass += 1 }
            }
        }
        if let out {
            let subFactor = inverseT / Float(batch), classFactor = gamma * inverseClassT / Float(batch)
            let probability = subFactor * Float(1 / sumExp), classProbability = classFactor * Float(1 / sumClassExp)
            let subStep = subFactor / Float(countSub), classStep = classFactor / Float(countClass)
            out[0] = out[0] * probability + classExp[0] * classProbability - subStep - classStep
            for j in 1..<columns {
                var d = out[j] * probability
                if queueSubclasses[j - 1] == subclass {
                    d -= subStep
                } else {
                    d += classExp[j] * classProbability
                    if queueLabels[j - 1] == label { d -= classStep }
                }
                out[j] = d
            }
        }
        let subLoss = log(sumExp) - sumSub / Double(countSub)
        let classLoss = log(sumClassExp) - sumClass / Double(countClass)
        return subLoss + Double(gamma) * classLoss
    }
}
