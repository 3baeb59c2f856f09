import Foundation

// Broadcasting arithmetic and unary functions, each with its pullback beside it.

extension Tensor {
    /// Applies `f` elementwise to two broadcast-compatible Float32 tensors.
    /// `kernel` names `f` for a device backend, which runs its own kernel instead.
    static func zipBroadcast(_ a: Tensor, _ b: Tensor, _ name: String, _ kernel: BinaryKernel, _ f: (Float, Float) -> Float) -> Tensor {
        guard let outShape = Broadcast.shape(a.shape, b.shape) else {
            preconditionFailure("\(name): shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        precondition(a.dtype == .float32 && b.dtype == .float32, "\(name): needs float32 tensors, got \(a.dtype) and \(b.dtype)")
        precondition(a.backend === b.backend, "\(name): operands on different backends (\(a.backend.name), \(b.backend.name))")
        let out = Tensor(uninitializedShape: outShape, on: a.backend)
        if let device = a.deviceKernels(for: .add) {
            device.zip(kernel, a.storage, strides: Broadcast.strides(of: a.shape, in: outShape), b.storage,
                       strides: Broadcast.strides(of: b.shape, in: outShape), shape: outShape, into: out.storage)
            return out
        }
        let pa = a.storage.floats, pb = b.storage.floats, po = out.storage.floats
        if a.shape == b.shape {
            parallelChunks(out.count, minimumChunk: 1 << 15) { r in for i in r { po[i] = f(pa[i], pb[i]) } }
        } else if b.count == 1 && a.shape == outShape {
            let s = pb[0]
            parallelChunks(out.count, minimumChunk: 1 << 15) { r in for i in r { po[i] = f(pa[i], s) } }
        } else {
            let sa = Broadcast.strides(of: a.shape, in: outShape), sb = Broadcast.strides(of: b.shape, in: outShape)
            Broadcast.forEach(outShape, sa, sb) { i, ia, ib in po[i] = f(pa[ia], pb[ib]) }
        }
        return out
    }

    /// Applies `f` to every element.
    /// `kernel` names `f` for a device backend, which runs its own kernel instead.
    func mapFloats(_ kernel: UnaryKernel, _ f: (Float) -> Float) -> Tensor {
        precondition(dtype == .float32, "elementwise op: needs a float32 tensor, got \(dtype)")
        let out = Tensor(uninitializedShape: shape, on: backend)
        if let device = deviceKernels(for: .negate) {
            device.map(kernel, storage, count: count, into: out.storage)
            return out
        }
        let p = storage.floats, o = out.storage.floats
        parallelChunks(count, minimumChunk: 1 << 14) { r in for i in r { o[i] = f(p[i]) } }
        return out
    }

    /// Elementwise sum with broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let out = zipBroadcast(a, b, "add", .add, +)
        return recorded(out, op: .add, inputs: [a, b]) { g, _ in
            [Broadcast.reduce(g, to: a.shape), Broadcast.reduce(g, to: b.shape)]
        }
    }

    /// Elementwise difference with broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let out = zipBroadcast(a, b, "subtract", .subtract, -)
        return recorded(out, op: .subtract, inputs: [a, b]) { g, _ in
            [Broadcast.reduce(g, to: a.shape), Broadcast.reduce(g.mapFloats(.negate) { -$0 }, to: b.shape)]
        }
    }

    /// Elementwise product with broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let out = zipBroadcast(a, b, "multiply", .multiply, *)
        return recorded(out, op: .multiply, inputs: [a, b]) { g, needs in
            [needs[0] ? Broadcast.reduce(zipBroadcast(g, b, "multiply", .multiply, *), to: a.shape) : nil,
             needs[1] ? Broadcast.reduce(zipBroadcast(g, a, "multiply", .multiply, *), to: b.shape) : nil]
        }
    }

    /// Elementwise quotient with broadcasting.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let out = zipBroadcast(a, b, "divide", .divide, /)
        return recorded(out, op: .divide, inputs: [a, b]) { g, needs in
            [needs[0] ? Broadcast.reduce(zipBroadcast(g, b, "divide", .divide, /), to: a.shape) : nil,
             needs[1] ? Broadcast.reduce(zipBroadcast(zipBroadcast(g, out, "divide", .multiply, *), b, "divide", .negatedQuotient, { -$0 / $1 }), to: b.shape) : nil]
        }
    }

    /// Elementwise negation.
    public static prefix func - (a: Tensor) -> Tensor {
        recorded(a.mapFloats(.negate) { -$0 }, op: .negate, inputs: [a]) { g, _ in [g.mapFloats(.negate) { -$0 }] }
    }

    /// Multiplies every element by a constant.
    public static func * (a: Tensor, s: Float) -> Tensor { a.scaled(by: s) }

    /// Adds a constant to every element.
    public static func + (a: Tensor, s: Float) -> Tensor {
        recorded(a.mapFloats(.addScalar(s)) { $0 + s }, op: .addScalar, inputs: [a]) { g, _ in [g] }
    }

    /// Multiplies every element by a constant.
    public func scaled(by s: Float) -> Tensor {
        Tensor.recorded(mapFloats(.scale(s)) { $0 * s }, op: .scale, inputs: [self]) { g, _ in [g.mapFloats(.scale(s)) { $0 * s }] }
    }

    /// Elementwise e^x.
    public func exp() -> Tensor {
        let out = mapFloats(.exp) { Foundation.exp($0) }
        return Tensor.recorded(out, op: .exp, inputs: [self]) { g, _ in [Tensor.zipBroadcast(g, out, "exp", .multiply, *)] }
    }

    /// Elementwise natural logarithm.
    public func log() -> Tensor {
        let x = self
        return Tensor.recorded(mapFloats(.log) { Foundation.log($0) }, op: .log, inputs: [self]) { g, _ in
            [Tensor.zipBroadcast(g, x, "log", .divide, /)]
        }
    }

    /// Elementwise square root.
    public func sqrt() -> Tensor {
        let out = mapFloats(.sqrt) { $0.squareRoot() }
        return Tensor.recorded(out, op: .sqrt, inputs: [self]) { g, _ in
            [Tensor.zipBroadcast(g, out, "sqrt", .sqrtBackward, { $0 * 0.5 / $1 })]
        }
    }

    /// Elementwise x^p for a constant p.
    public func pow(_ p: Float) -> Tensor {
        let x = self
        return Tensor.recorded(mapFloats(.pow(p)) { Foundation.pow($0, p) }, op: .powScalar, inputs: [self]) { g, _ in
            [Tensor.zipBroadcast(g, x, "pow", .powBackward(p), { $0 * p * Foundation.pow($1, p - 1) })]
        }
    }

    /// Elementwise max(x, 0).
    public func relu() -> Tensor {
        let x = self
        return Tensor.recorded(mapFloats(.relu) { Swift.max($0, 0) }, op: .relu, inputs: [self]) { g, _ in
            [Tensor.zipBroadcast(g, x, "relu", .reluBackward, { $1 > 0 ? $0 : 0 })]
        }
    }

    /// Replaces the elements where `mask` is non-zero by `value`; no gradient flows to them.
    /// `mask` is a float32 or int32 tensor that broadcasts to this tensor's shape.
    public func maskedFill(_ mask: Tensor, with value: Float) -> Tensor {
        let m = mask.dtype == .float32 ? mask : mask.asFloat32()
        let out = Tensor.zipBroadcast(self, m, "maskedFill", .maskedFill(value), { $1 != 0 ? value : $0 })
        let shape = self.shape
        return Tensor.recorded(out, op: .maskedFill, inputs: [self]) { g, _ in
            [Broadcast.reduce(Tensor.zipBroadcast(g, m, "maskedFill", .maskedFill(0), { $1 != 0 ? 0 : $0 }), to: shape)]
        }
    }

    /// An Int32 tensor's values as Float32 (no gradient).
    public func asFloat32() -> Tensor {
        if dtype == .float32 { return self }
        let out = Tensor(uninitializedShape: shape, on: backend)
        if let device = deviceKernels(for: .maskedFill) {
            device.convertToFloat(storage, count: count, into: out.storage)
            return out
        }
        for i in 0..<count { out.storage.floats[i] = Float(storage.int32s[i]) }
        return out
    }
}
