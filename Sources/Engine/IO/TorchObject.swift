/// What a PyTorch checkpoint (`torch.save`) holds, as read by `TorchCheckpoint`: numbers,
/// strings, lists, tuples, dicts (in order) and tensors. Floating-point tensors come as float32
/// (float16, bfloat16 and float64 converted); integer and bool tensors keep their type.
public indirect enum TorchObject: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case list([TorchObject])
    case tuple([TorchObject])
    /// A dict or `OrderedDict`, in insertion order.
    case dict([(key: TorchObject, value: TorchObject)])
    /// A tensor (or `nn.Parameter`), contiguous in C order.
    case tensor(HostArray)

    /// The value of string key `key` in a dict; nil otherwise.
    public subscript(key: String) -> TorchObject? {
        guard case let .dict(pairs) = self else { return nil }
        return pairs.first { if case let .string(k) = $0.key { return k == key } else { return false } }?.value
    }

    /// The keys of a dict that are strings, in order (empty for other values).
    public var stringKeys: [String] {
        guard case let .dict(pairs) = self else { return [] }
        return pairs.compactMap { if case let .string(k) = $0.key { return k } else { return nil } }
    }

    /// The named tensors of a dict whose values are all tensors, with string keys (a state dict);
    /// nil for anything else. An empty dict is not a state dict.
    public var stateDict: [(name: String, array: HostArray)]? {
        guard case let .dict(pairs) = self, !pairs.isEmpty else { return nil }
        var out: [(name: String, array: HostArray)] = []
        for (key, value) in pairs {
            guard case let .string(name) = key, case let .tensor(array) = value else { return nil }
            out.append((name, array))
        }
        return out
    }

    /// A short description for messages: `dict with keys epoch, arch, state_dict`, `tensor float32 [64, 3, 7, 7]`.
    public var summary: String {
        switch self {
        case .none: return "None"
        case let .bool(b): return b ? "True" : "False"
        case let .int(i): return String(i)
        case let .float(f): return String(f)
        case let .string(s): return "'\(s)'"
        case let .bytes(b): return "\(b.count) bytes"
        case let .list(items): return "list of \(items.count)"
        case let .tuple(items): return "tuple of \(items.count)"
        case let .dict(pairs):
            let keys = stringKeys
            return keys.count == pairs.count ? "dict with keys \(keys.prefix(6).joined(separator: ", "))\(keys.count > 6 ? ", …" : "")"
                                             : "dict of \(pairs.count)"
        case let .tensor(a): return "tensor \(a.dtype.rawValue) \(a.shape)"
        }
    }
}
