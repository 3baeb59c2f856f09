/// A dense, C-ordered (row-major) array in host memory as raw little-endian bytes: what a tensor
/// file holds, independent of any tensor type or backend.
public struct HostArray: Equatable, Sendable {
    /// Element type.
    public var dtype: DType
    /// Dimensions, outermost first; `[]` is a scalar.
    public var shape: [Int]
    /// `count * dtype.byteSize` bytes, little-endian, C order.
    public var bytes: [UInt8]

    /// Number of elements: the product of `shape` (1 for a scalar).
    public var count: Int { HostArray.elementCount(shape) ?? 0 }

    /// Wraps raw bytes; the byte count must match `dtype` and `shape`.
    public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
        guard let n = HostArray.elementCount(shape) else {
            preconditionFailure("HostArray(dtype:shape:bytes:): invalid shape \(shape)")
        }
        precondition(bytes.count == n * dtype.byteSize,
                     "HostArray(dtype:shape:bytes:): \(bytes.count) bytes for \(dtype) \(shape), expected \(n * dtype.byteSize)")
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// The product of `shape`, or `nil` when a dimension is negative or the product overflows.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            n = p
        }
        return n
    }

    private init<T>(values: [T], dtype: DType, shape: [Int], op: String) {
        precondition(MemoryLayout<T>.size == dtype.byteSize, "HostArray.\(op): element size mismatch")
        guard let n = HostArray.elementCount(shape), n == values.count else {
            preconditionFailure("HostArray.\(op): \(values.count) values for shape \(shape)")
        }
        self.dtype = dtype
        self.shape = shape
        self.bytes = values.withUnsafeBytes { Array($0) }
    }

    /// A float32 array from `floats` in C order.
    public init(floats: [Float], shape: [Int]) {
        self.init(values: floats, dtype: .float32, shape: shape, op: "init(floats:shape:)")
    }

    /// A float64 array from `doubles` in C order.
    public init(doubles: [Double], shape: [Int]) {
        self.init(values: doubles, dtype: .float64, shape: shape, op: "init(doubles:shape:)")
    }

    /// An int64 array from `int64s` in C order.
    public init(int64s: [Int64], shape: [Int]) {
        self.init(values: int64s, dtype: .int64, shape: shape, op: "init(int64s:shape:)")
    }

    /// An int32 array from `int32s` in C order.
    public init(int32s: [Int32], shape: [Int]) {
        self.init(values: int32s, dtype: .int32, shape: shape, op: "init(int32s:shape:)")
    }

    /// A uint8 array from `uint8s` in C order.
    public init(uint8s: [UInt8], shape: [Int]) {
        self.init(values: uint8s, dtype: .uint8, shape: shape, op: "init(uint8s:shape:)")
    }

    /// A bool array (one byte per element) from `bools` in C order.
    public init(bools: [Bool], shape: [Int]) {
        self.init(values: bools.map { $0 ? UInt8(1) : 0 }, dtype: .bool, shape: shape, op: "init(bools:shape:)")
    }
}

// MARK: - Reading elements

extension HostArray {
    /// Calls `body` with element `i` loaded as `T` for every element, in order.
    private func forEachElement<T>(as type: T.Type, _ body: (Int, T) -> Void) {
        let n = count
        bytes.withUnsafeBytes { raw in
            for i in 0..<n { body(i, raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)) }
        }
    }

    /// Every element converted to `Double` (exact for all types but the largest 64-bit integers).
    public func doubles() -> [Double] {
        var out = [Double](repeating: 0, count: count)
        switch dtype {
        case .float64: forEachElement(as: Double.self) { out[$0] = $1 }
        case .float32: forEachElement(as: Float.self) { out[$0] = Double($1) }
        case .float16: forEachElement(as: UInt16.self) { out[$0] = Double(HalfFloat.float(fromHalfBits: $1)) }
        case .bfloat16: forEachElement(as: UInt16.self) { out[$0] = Double(Float(bitPattern: UInt32($1) << 16)) }
        case .int64: forEachElement(as: Int64.self) { out[$0] = Double($1) }
        case .int32: forEachElement(as: Int32.self) { out[$0] = Double($1) }
        case .int16: forEachElement(as: Int16.self) { out[$0] = Double($1) }
        case .int8: forEachElement(as: Int8.self) { out[$0] = Double($1) }
        case .uint64: forEachElement(as: UInt64.self) { out[$0] = Double($1) }
        case .uint32: forEachElement(as: UInt32.self) { out[$0] = Double($1) }
        case .uint16: forEachElement(as: UInt16.self) { out[$0] = Double($1) }
        case .uint8, .bool: forEachElement(as: UInt8.self) { out[$0] = Double($1) }
        }
        return out
    }

    /// Every element converted to `Float` (rounded for float64 and wide integers).
    public func floats() -> [Float] {
        if dtype == .float32 {
            var out = [Float](repeating: 0, count: count)
            forEachElement(as: Float.self) { out[$0] = $1 }
            return out
        }
        return doubles().map { Float($0) }
    }

    /// Every element as `Int64`; integer and bool types only.
    /// - Throws: `HostArrayConversionError` for floating-point types or a uint64 above `Int64.max`.
    public func int64s() throws -> [Int64] {
        var out = [Int64](repeating: 0, count: count)
        var tooLarge = false
        switch dtype {
        case .float64, .float32, .float16, .bfloat16:
            throw HostArrayConversionError(message: "cannot read \(dtype) elements as integers")
        case .int64: forEachElement(as: Int64.self) { out[$0] = $1 }
        case .int32: forEachElement(as: Int32.self) { out[$0] = Int64($1) }
        case .int16: forEachElement(as: Int16.self) { out[$0] = Int64($1) }
        case .int8: forEachElement(as: Int8.self) { out[$0] = Int64($1) }
        case .uint64: forEachElement(as: UInt64.self) { i, v in
            if let x = Int64(exactly: v) { out[i] = x } else { tooLarge = true } }
        case .uint32: forEachElement(as: UInt32.self) { out[$0] = Int64($1) }
        case .uint16: forEachElement(as: UInt16.self) { out[$0] = Int64($1) }
        case .uint8, .bool: forEachElement(as: UInt8.self) { out[$0] = Int64($1) }
        }
        if tooLarge { throw HostArrayConversionError(message: "a uint64 element exceeds Int64.max") }
        return out
    }

    /// Every element as `Int32`; integer and bool types only.
    /// - Throws: `HostArrayConversionError` for floating-point types or values outside Int32.
    public func int32s() throws -> [Int32] {
        let wide = try int64s()
        var out = [Int32](repeating: 0, count: wide.count)
        for (i, v) in wide.enumerated() {
            guard let x = Int32(exactly: v) else {
                throw HostArrayConversionError(message: "element \(i) = \(v) does not fit in Int32")
            }
            out[i] = x
        }
        return out
    }

    /// A copy with every element converted to `dtype` (floats to integers truncate toward zero).
    public func converted(to target: DType) -> HostArray {
        if target == dtype { return self }
        let values = doubles()
        var out = [UInt8]()
        out.reserveCapacity(values.count * target.byteSize)
        func append<T>(_ v: T) { withUnsafeBytes(of: v) { out.append(contentsOf: $0) } }
        for v in values {
            switch target {
            case .float64: append(v)
            case .float32: append(Float(v))
            case .float16: append(HalfFloat.halfBits(from: Float(v)))
            case .bfloat16: append(HalfFloat.bfloat16Bits(from: Float(v)))
            case .int64: append(Int64(clamping: v))
            case .int32: append(Int32(clamping: v))
            case .int16: append(Int16(clamping: v))
            case .int8: append(Int8(clamping: v))
            case .uint64: append(UInt64(clamping: v))
            case .uint32: append(UInt32(clamping: v))
            case .uint16: append(UInt16(clamping: v))
            case .uint8: append(UInt8(clamping: v))
            case .bool: append(UInt8(v != 0 ? 1 : 0))
            }
        }
        return HostArray(dtype: target, shape: shape, bytes: out)
    }
}

private extension FixedWidthInteger {
    /// Truncates toward zero and clamps into range; NaN becomes zero.
    init(clamping v: Double) {
        if v.isNaN { self = 0 } else if v <= Double(Self.min) { self = Self.min }
        else if v >= Double(Self.max) { self = Self.max } else { self = Self(v.rounded(.towardZero)) }
    }
}

/// A `HostArray` whose elements cannot be read as the requested type.
public struct HostArrayConversionError: Error, Equatable, CustomStringConvertible {
    /// What could not be converted.
    public var message: String
    /// The message.
    public var description: String { message }
}
