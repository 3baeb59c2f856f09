/// One command-line override in Hydra's grammar: `key=value`, `+key=value`, `++key=value`, `~key`.
public struct Override: Sendable, Equatable {
    /// What the override does.
    public enum Operation: Sendable, Equatable {
        /// `key=value`: change a key the recipe has, or a parameter its schema knows.
        case set
        /// `+key=value`: add a key the recipe does not have.
        case add
        /// `++key=value`: set or add.
        case upsert
        /// `~key` (or `~key=value`, which checks the current value first): remove a key.
        case remove
    }

    /// The operation.
    public var operation: Operation
    /// The dotted path, split: `stages.loss.temperature` → `["stages", "loss", "temperature"]`.
    public var path: [String]
    /// The value's text as typed (YAML flow syntax: `0.2`, `[1, 2]`, `{a: 1}`); nil for a bare `~key`.
    public var valueText: String?
    /// The argument as the user wrote it, for messages.
    public var argument: String

    /// Creates an override from its parts.
    public init(operation: Operation, path: [String], valueText: String?, argument: String) {
        self.operation = operation
        self.path = path
        self.valueText = valueText
        self.argument = argument
    }

    /// The dotted key.
    public var key: String { path.joined(separator: ".") }

    /// Parses one argument; throws `UsageError` when it is not an override.
    public static func parse(_ argument: String) throws -> Override {
        var rest = Substring(argument)
        var operation = Operation.set
        if rest.hasPrefix("++") { operation = .upsert; rest = rest.dropFirst(2) }
        else if rest.hasPrefix("+") { operation = .add; rest = rest.dropFirst() }
        else if rest.hasPrefix("~") { operation = .remove; rest = rest.dropFirst() }
        let key: Substring, value: String?
        if let equals = rest.firstIndex(of: "=") {
            key = rest[..<equals]
            value = String(rest[rest.index(after: equals)...])
        } else {
            key = rest
            value = nil
        }
        let path = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !key.isEmpty, path.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" } }) else {
            throw UsageError("invalid override '\(argument)': expected KEY=VALUE with a dotted KEY such as stages.loss.temperature=0.2")
        }
        if value == nil && operation != .remove {
            throw UsageError("invalid override '\(argument)': expected KEY=VALUE (or ~KEY to remove a key)")
        }
        return Override(operation: operation, path: path, valueText: value, argument: argument)
    }

    /// The value parsed as YAML, its locations naming the command line.
    func valueNode() throws -> SourceNode? {
        guard let valueText else { return nil }
        let file = "<command line: \(argument)>"
        if valueText.trimmingCharacters(in: .whitespaces).isEmpty {
            return .scalar("", isPlain: true, SourceLocation(file: file, line: 0, column: 0))
        }
        do {
            return try YAMLLoader.load(text: valueText, file: file).withoutLines()
        } catch let error as RecipeError {
            throw RecipeError(error.diagnostics.map { diagnostic in
                var diagnostic = diagnostic
                diagnostic.location = SourceLocation(file: file, line: 0, column: 0)
                diagnostic.keyPath = key
                return diagnostic
            })
        }
    }
}

extension SourceNode {
    /// The same tree with line numbers cleared, so diagnostics print just the file name.
    func withoutLines() -> SourceNode {
        func strip(_ location: SourceLocation) -> SourceLocation { SourceLocation(file: location.file, line: 0, column: 0) }
        switch self {
        case .scalar(let text, let isPlain, let location): return .scalar(text, isPlain: isPlain, strip(location))
        case .sequence(let items, let location): return .sequence(items.map { $0.withoutLines() }, strip(location))
        case .mapping(let entries, let location):
            return .mapping(entries.map { SourceEntry(key: $0.key, keyLocation: strip($0.keyLocation), value: $0.value.withoutLines()) },
                            strip(location))
        }
    }
}
