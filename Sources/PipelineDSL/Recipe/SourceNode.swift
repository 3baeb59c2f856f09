/// A YAML value as written, with where it was written: what the validator walks.
public indirect enum SourceNode: Sendable {
    /// A scalar's text; `isPlain` is false for quoted and block scalars (which are never null,
    /// numbers or booleans).
    case scalar(String, isPlain: Bool, SourceLocation)
    /// A sequence.
    case sequence([SourceNode], SourceLocation)
    /// A mapping, in file order, duplicates already rejected.
    case mapping([SourceEntry], SourceLocation)

    /// Where the node starts.
    public var location: SourceLocation {
        switch self {
        case .scalar(_, _, let location), .sequence(_, let location), .mapping(_, let location):
            return location
        }
    }

    /// Whether this is a plain `null`, `~` or empty scalar.
    public var isNull: Bool {
        if case .scalar(let text, true, _) = self { return ["", "~", "null", "Null", "NULL"].contains(text) }
        return false
    }

    /// A short description of what was found, for "expected X, found Y" messages.
    public var found: String {
        switch self {
        case .scalar(let text, let isPlain, _):
            if isNull { return "null" }
            let shown = text.count > 40 ? String(text.prefix(37)) + "..." : text
            return isPlain ? "'\(shown)'" : "the quoted string \"\(shown)\""
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    /// The entries, if this is a mapping.
    public var entries: [SourceEntry]? {
        if case .mapping(let entries, _) = self { return entries }
        return nil
    }
}

/// A key and its value in a mapping.
public struct SourceEntry: Sendable {
    /// The key's text.
    public var key: String
    /// Where the key is written.
    public var keyLocation: SourceLocation
    /// The value.
    public var value: SourceNode

    /// Creates an entry.
    public init(key: String, keyLocation: SourceLocation, value: SourceNode) {
        self.key = key
        self.keyLocation = keyLocation
        self.value = value
    }
}
