/// NumPy-style broadcasting of shapes, and the reduction that undoes it in backward passes.
enum Broadcast {
    /// The broadcast shape of `a` and `b`, or `nil` when they are incompatible.
    static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let n = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Element strides of `shape` viewed as `target`: 0 along broadcast dimensions.
    static func strides(of shape: [Int], in target: [Int]) -> [Int] {
        var strides = [Int](repeating: 0, count: target.count)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            let t = i + target.count - shape.count
            strides[t] = shape[i] == 1 ? 0 : s
            s *= shape[i]
        }
        return strides
    }

    /// Calls `body(outputIndex, offsetA, offsetB)` for every element of `target` in row-major
    /// order, with the matching offsets into `a` and `b`.
    @inline(__always)
    static func forEach(_ target: [Int], _ sa: [Int], _ sb: [Int], _ body: (Int, Int, Int) -> Void) {
        let n = target.reduce(1, *)
        guard n > 0 else { return }
        let rank = target.count
        if rank == 0 { body(0, 0, 0); return }
        var idx = [Int](repeating: 0, count: rank)
        var oa = 0, ob = 0
        let inner = target[rank - 1], ia = sa[rank - 1], ib = sb[rank - 1]
        var o = 0
        while o < n {
            for j in 0..<inner { body(o + j, oa + j * ia, ob + j * ib) }
            o += inner
            var d = rank - 2
            while d >= 0 {
                idx[d] += 1; oa += sa[d]; ob += sb[d]
                if idx[d] < target[d] { break }
                oa -= sa[d] * target[d]; ob -= sb[d] * target[d]; idx[d] = 0
                d -= 1
            }
        }
    }

    /// Sums `gradient` (of shape `target`) down to `shape`, the inverse of broadcasting.
    static func reduce(_ gradient: Tensor, to shape: [Int]) -> Tensor {
        if gradient.shape == shape { return gradient }
        if !gradient.storage.isHost { return reduceOnDevice(gradient, to: shape) }
        let out = Tensor.zeros(shape, on: gradient.backend)
        let st = strides(of: shape, in: gradient.shape)
        let g = gradient.storage.floats, o = out.storage.floats
        forEach(gradient.shape, st, st) { i, oa, _ in o[oa] += g[i] }
        return out
    }

    /// `reduce` on a device: one axis sum per broadcast dimension, leading dimensions first.
    private static func reduceOnDevice(_ gradient: Tensor, to shape: [Int]) -> Tensor {
        let target = gradient.shape
        let padded = [Int](repeating: 1, count: target.count - shape.count) + shape
        var current = gradient
        for axis in 0..<target.count where padded[axis] == 1 && target[axis] != 1 {
            current = current.detached.sum(axis: axis, keepingDimension: true)
        }
        return Tensor(shape: shape, storage: current.storage)
    }
}
