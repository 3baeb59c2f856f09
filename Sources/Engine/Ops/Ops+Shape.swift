// Reshaping, transposition, concatenation, slicing and splitting.

extension Tensor {
    /// The same elements under a new shape (no copy). One dimension may be -1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "reshaped: cannot infer -1 in \(newShape) for \(shape)")
            s[i] = count / known
        }
        precondition(s.reduce(1, *) == count, "reshaped: \(shape) (\(count) elements) cannot become \(newShape)")
        let out = Tensor(shape: s, dtype: dtype, storage: storage)
        let inShape = shape
        return Tensor.recorded(out, op: .reshape, inputs: [self]) { g, _ in [g.reshaped(inShape)] }
    }

    /// The transpose of a 2-D tensor.
    public func transposed() -> Tensor {
        precondition(rank == 2 && dtype == .float32, "transposed: needs a 2-D float32 tensor, got \(shape)")
        let (r, c) = (shape[0], shape[1])
        if deviceKernels(for: .transpose2D) != nil {
            return Tensor.recorded(gathered([c, r], strides: [1, c]), op: .transpose2D, inputs: [self]) { g, _ in [g.transposed()] }
        }
        let out = Tensor(uninitializedShape: [c, r], on: backend)
        let x = storage.floats, y = out.storage.floats
        for i in 0..<r { for j in 0..<c { y[j * r + i] = x[i * c + j] } }
        return Tensor.recorded(out, op: .transpose2D, inputs: [self]) { g, _ in [g.transposed()] }
    }

    /// Joins tensors along `axis`; all other dimensions must agree.
    public static func concat(_ parts: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!parts.isEmpty, "concat: no tensors")
        let first = parts[0], ax = first.resolvedAxis(axis)
        for p in parts {
            precondition(p.rank == first.rank && p.dtype == first.dtype
                         && p.shape.enumerated().allSatisfy { $0.offset == ax || $0.element == first.shape[$0.offset] },
                         "concat: shapes \(parts.map(\.shape)) differ outside axis \(ax)")
        }
        var outShape = first.shape
        outShape[ax] = parts.reduce(0) { $0 + $1.shape[ax] }
        let out = Tensor(uninitializedShape: outShape, dtype: first.dtype, on: first.backend)
        let outer = first.shape[..<ax].reduce(1, *), inner = first.shape[(ax + 1)...].reduce(1, *)
        let rowOut = outShape[ax] * inner
        if let device = first.deviceKernels(for: .concat) {
            var start = 0
            for p in parts {
                precondition(p.backend === first.backend, "concat: parts on different backends")
                device.copyBlocks(p.storage, sourceAxis: p.shape[ax], sourceStart: 0, into: out.storage,
                                  destinationAxis: outShape[ax], destinationStart: start, outer: outer, count: p.shape[ax], inner: inner)
                start += p.shape[ax]
            }
        }
        var offset = 0
        for p in parts where out.storage.isHost {
            let rowIn = p.shape[ax] * inner
            for a in 0..<outer {
                (out.storage.raw + (a * rowOut + offset) * 4).copyMemory(from: p.storage.raw + a * rowIn * 4, byteCount: rowIn * 4)
            }
            offset += rowIn
        }
        let sizes = parts.map { $0.shape[ax] }
        return recorded(out, op: .concat, inputs: parts) { g, needs in
            var start = 0
            return zip(sizes, needs).map { size, need in
                defer { start += size }
                return need ? g.sliced(axis: ax, start..<(start + size)) : nil
            }
        }
    }

    /// The elements whose index along `axis` lies in `range`, copied into a new tensor.
    public func sliced(axis: Int, _ range: Range<Int>) -> Tensor {
        let ax = resolvedAxis(axis)
        let (outer, size, inner) = axisGeometry(ax, "sliced")
        precondition(range.lowerBound >= 0 && range.upperBound <= size, "sliced: range \(range) outside 0..<\(size) on axis \(ax) of \(shape)")
        var outShape = shape
        outShape[ax] = range.count
        let out = Tensor(uninitializedShape: outShape, dtype: dtype, on: backend)
        let rowOut = range.count * inner
        let inShape = shape
        if let device = deviceKernels(for: .slice) {
            device.copyBlocks(storage, sourceAxis: size, sourceStart: range.lowerBound, into: out.storage, destinationAxis: range.count,
                              destinationStart: 0, outer: outer, count: range.count, inner: inner)
            return Tensor.recorded(out, op: .slice, inputs: [self]) { g, _ in
                let gx = Tensor.zeros(inShape, on: g.backend)
                device.copyBlocks(g.storage, sourceAxis: range.count, sourceStart: 0, into: gx.storage, destinationAxis: size,
                                  destinationStart: range.lowerBound, outer: outer, count: range.count, inner: inner)
                return [gx]
            }
        }
        for a in 0..<outer {
            (out.storage.raw + a * rowOut * 4).copyMemory(from: storage.raw + ((a * size + range.lowerBound) * inner) * 4, byteCount: rowOut * 4)
        }
        return Tensor.recorded(out, op: .slice, inputs: [self]) { g, _ in
            let gx = Tensor.zeros(inShape, on: g.backend)
            for a in 0..<outer {
                (gx.storage.raw + ((a * size + range.lowerBound) * inner) * 4).copyMemory(from: g.storage.raw + a * rowOut * 4, byteCount: rowOut * 4)
            }
            return [gx]
        }
    }

    /// Cuts the tensor along `axis` into pieces of the given sizes.
    public func split(sizes: [Int], axis: Int = 0) -> [Tensor] {
        let ax = resolvedAxis(axis)
        precondition(sizes.reduce(0, +) == shape[ax], "split: sizes \(sizes) do not add up to \(shape[ax]) on axis \(ax) of \(shape)")
        var start = 0
        return sizes.map { s in defer { start += s }; return sliced(axis: ax, start..<(start + s)) }
    }
}
