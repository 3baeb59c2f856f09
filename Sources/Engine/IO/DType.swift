/// The element type of a `HostArray`, as stored in safetensors and `.npy` files.
///
/// Every type is stored little-endian in memory; big-endian `.npy` files are swapped on read.
public enum DType: String, CaseIterable, Sendable, Hashable {
    /// IEEE 754 double precision.
    case float64
    /// IEEE 754 single precision.
    case float32
    /// IEEE 754 half precision.
    case float16
    /// bfloat16: the upper 16 bits of a float32.
    case bfloat16
    /// Signed 64-bit integer (PyTorch's `long`, the type of `num_batches_tracked`).
    case int64
    /// Signed 32-bit integer.
    case int32
    /// Signed 16-bit integer.
    case int16
    /// Signed 8-bit integer.
    case int8
    /// Unsigned 64-bit integer.
    case uint64
    /// Unsigned 32-bit integer.
    case uint32
    /// Unsigned 16-bit integer.
    case uint16
    /// Unsigned 8-bit integer.
    case uint8
    /// One byte per element, 0 or 1.
    case bool

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float64, .int64, .uint64: return 8
        case .float32, .int32, .uint32: return 4
        case .float16, .bfloat16, .int16, .uint16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// Whether the type holds floating-point values.
    public var isFloatingPoint: Bool {
        switch self {
        case .float64, .float32, .float16, .bfloat16: return true
        case .int64, .int32, .int16, .int8, .uint64, .uint32, .uint16, .uint8, .bool: return false
        }
    }

    /// The safetensors header spelling (`"F32"`, `"I64"`, `"BOOL"`, ...).
    public var safetensorsName: String {
        switch self {
        case .float64: return "F64"
        case .float32: return "F32"
        case .float16: return "F16"
        case .bfloat16: return "BF16"
        case .int64: return "I64"
        case .int32: return "I32"
        case .int16: return "I16"
        case .int8: return "I8"
        case .uint64: return "U64"
        case .uint32: return "U32"
        case .uint16: return "U16"
        case .uint8: return "U8"
        case .bool: return "BOOL"
        }
    }

    /// The type whose safetensors spelling is `name`, or `nil` for a type this engine cannot hold
    /// (the float8 variants, complex types).
    public init?(safetensorsName name: String) {
        guard let match = DType.allCases.first(where: { $0.safetensorsName == name }) else { return nil }
        self = match
    }

    /// The numpy type code without the byte-order character (`"f4"`, `"i8"`, `"b1"`), or `nil`
    /// for bfloat16, which numpy cannot represent.
    public var numpyCode: String? {
        switch self {
        case .float64: return "f8"
        case .float32: return "f4"
        case .float16: return "f2"
        case .bfloat16: return nil
        case .int64: return "i8"
        case .int32: return "i4"
        case .int16: return "i2"
        case .int8: return "i1"
        case .uint64: return "u8"
        case .uint32: return "u4"
        case .uint16: return "u2"
        case .uint8: return "u1"
        case .bool: return "b1"
        }
    }

    /// The type whose numpy code (without byte order) is `code`, or `nil` when unsupported.
    public init?(numpyCode code: String) {
        guard let match = DType.allCases.first(where: { $0.numpyCode == code }) else { return nil }
        self = match
    }
}
