// Sums, means and maxima over all elements or along one axis.

extension Tensor {
    /// Splits the shape around `axis` into (outer, size of axis, inner) element counts.
    func axisGeometry(_ axis: Int, _ name: String) -> (outer: Int, size: Int, inner: Int) {
        precondition(axis >= 0 && axis < rank, "\(name): axis \(axis) out of range for shape \(shape)")
        return (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    /// Normalises a possibly negative axis.
    func resolvedAxis(_ axis: Int) -> Int { axis < 0 ? axis + rank : axis }

    /// The sum of all elements, a scalar. Accumulates in Float64 for accuracy.
    public func sum() -> Tensor {
        let shape = self.shape
        if let device = deviceKernels(for: .sum) {
            let out = Tensor(uninitializedShape: [], on: backend)
            device.sum(storage, outer: 1, size: count, inner: 1, into: out.storage)
            // The pullback broadcasts g on the device: reading g.item would be a transfer per step.
            return Tensor.recorded(out, op: .sum, inputs: [self]) { g, _ in
                [Tensor.zipBroadcast(Tensor.zeros(shape, on: g.backend), g, "sum", .add, +)]
            }
        }
        let s = withFloats { b in b.reduce(0.0) { $0 + Double($1) } }
        return Tensor.recorded(Tensor(scalar: Float(s), on: backend), op: .sum, inputs: [self]) { g, _ in
            [Tensor(repeating: g.item, shape: shape, on: g.backend)]
        }
    }

    /// The sum along `axis`; the axis is kept with size 1 when `keepingDimension`.
    public func sum(axis: Int, keepingDimension: Bool = false) -> Tensor {
        let ax = resolvedAxis(axis)
        let (outer, size, inner) = axisGeometry(ax, "sum")
        var outShape = shape
        if keepingDimension { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        let inShape = shape
        if let device = deviceKernels(for: .sum) {
            let out = Tensor(uninitializedShape: outShape, on: backend)
            device.sum(storage, outer: outer, size: size, inner: inner, into: out.storage)
            var keptShape = inShape
            keptShape[ax] = 1
            return Tensor.recorded(out, op: .sum, inputs: [self]) { g, _ in
                let kept = Tensor(shape: keptShape, storage: g.storage)
                return [Tensor.zipBroadcast(Tensor.zeros(inShape, on: g.backend), kept, "sum", .add, +)]
            }
        }
        let out = Tensor.zeros(outShape, on: backend)
        let p = storage.floats, o = out.storage.floats
        for a in 0..<outer { for k in 0..<size { for i in 0..<inner { o[a * inner + i] += p[(a * size + k) * inner + i] } } }
        return Tensor.recorded(out, op: .sum, inputs: [self]) { g, _ in
            let gx = Tensor(uninitializedShape: inShape, on: g.backend)
            let gp = g.storage.floats, xp = gx.storage.floats
            for a in 0..<outer { for k in 0..<size { for i in 0..<inner { xp[(a * size + k) * inner + i] = gp[a * inner + i] } } }
            return [gx]
        }
    }

    /// The mean of all elements, a scalar.
    public func mean() -> Tensor { sum().scaled(by: 1 / Float(Swift.max(count, 1))) }

    /// The mean along `axis`.
    public func mean(axis: Int, keepingDimension: Bool = false) -> Tensor {
        let ax = resolvedAxis(axis)
        return sum(axis: ax, keepingDimension: keepingDimension).scaled(by: 1 / Float(Swift.max(shape[ax], 1)))
    }

    /// The maximum along `axis`. The gradient goes to the first maximal element.
    public func max(axis: Int, keepingDimension: Bool = false) -> Tensor {
        let ax = resolvedAxis(axis)
        let (outer, size, inner) = axisGeometry(ax, "max")
        precondition(size > 0, "max: empty axis \(ax) in shape \(shape)")
        var outShape = shape
        if keepingDimension { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        let inShape = shape
        if let device = deviceKernels(for: .max) {
            let out = Tensor(uninitializedShape: outShape, on: backend)
            let indices = Tensor(uninitializedShape: [outer * inner], dtype: .int32, on: backend)
            device.max(storage, outer: outer, size: size, inner: inner, into: out.storage, indices: indices.storage)
            return Tensor.recorded(out, op: .max, inputs: [self]) { g, _ in
                let gx = Tensor(uninitializedShape: inShape, on: g.backend)
                device.maxBackward(g.storage, indices: indices.storage, outer: outer, size: size, inner: inner, into: gx.storage)
                return [gx]
            }
        }
        let out = Tensor(uninitializedShape: outShape, on: backend)
        var argmax = [Int](repeating: 0, count: outer * inner)
        let p = storage.floats, o = out.storage.floats
        for a in 0..<outer {
            for i in 0..<inner {
                var best = p[a * size * inner + i], at = 0
                for k in 1..<Swift.max(size, 1) where p[(a * size + k) * inner + i] > best {
                    best = p[(a * size + k) * inner + i]; at = k
                }
                o[a * inner + i] = best
                argmax[a * inner + i] = at
            }
        }
        return Tensor.recorded(out, op: .max, inputs: [self]) { g, _ in
            let gx = Tensor.zeros(inShape, on: g.backend)
            let gp = g.storage.floats, xp = gx.storage.floats
            for a in 0..<outer { for i in 0..<inner { xp[(a * size + argmax[a * inner + i]) * inner + i] = gp[a * inner + i] } }
            return [gx]
        }
    }
}
