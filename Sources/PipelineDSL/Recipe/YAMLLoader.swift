import Foundation
import Yams

/// Reads YAML text into a `SourceNode` tree, refusing hostile input with a diagnostic.
///
/// Limits keep every input to well under a second: the text size, the nesting depth (checked
/// on the raw text before Yams, whose composer recurses), and the number of nodes after aliases
/// are expanded (an "alias bomb" expands exponentially).
public enum YAMLLoader {
    /// Largest recipe accepted, in bytes.
    public static let maximumBytes = 1 << 20
    /// Deepest nesting accepted.
    public static let maximumDepth = 64
    /// Most nodes accepted after alias expansion.
    public static let maximumNodes = 100_000

    /// Decodes a file's bytes as UTF-8 and parses them; `file` names the file in diagnostics.
    public static func load(data: Data, file: String) throws -> SourceNode {
        let at = { (line: Int, column: Int) in SourceLocation(file: file, line: line, column: column) }
        guard data.count <= maximumBytes else {
            throw RecipeError([Diagnostic(location: at(1, 1), keyPath: "",
                                          message: "file is \(data.count) bytes, expected a recipe of at most \(maximumBytes) bytes")])
        }
        guard let text = String(validatingUTF8Data: data) else {
            let (line, column) = firstInvalidUTF8(in: data)
            throw RecipeError([Diagnostic(location: at(line, column), keyPath: "",
                                          message: "expected UTF-8 text, found invalid or binary bytes")])
        }
        return try load(text: text, file: file)
    }

    /// Parses YAML text; `file` names the source in diagnostics.
    public static func load(text: String, file: String) throws -> SourceNode {
        let at = { (line: Int, column: Int) in SourceLocation(file: file, line: line, column: column) }
        if let (line, column, scalar) = firstControlCharacter(in: text) {
            throw RecipeError([Diagnostic(location: at(line, column), keyPath: "",
                                          message: "expected text, found control character U+\(String(format: "%04X", scalar))")])
        }
        if let (line, column) = NestingScanner.firstTooDeep(text, limit: maximumDepth) {
            throw RecipeError([Diagnostic(location: at(line, column), keyPath: "",
                                          message: "nesting is deeper than \(maximumDepth) levels")])
        }
        let node: Node?
        do {
            let parser = try Parser(yaml: text, resolver: .basic)
            node = try parser.singleRoot()
        } catch let error as YamlError {
            throw RecipeError([diagnostic(for: error, file: file)])
        }
        guard let node else {
            throw RecipeError([Diagnostic(location: at(1, 1), keyPath: "", message: "expected a mapping, found an empty document")])
        }
        var converter = Converter(file: file)
        let tree = converter.convert(node, depth: 0)
        if !converter.diagnostics.isEmpty { throw RecipeError(converter.diagnostics) }
        return tree
    }

    static func diagnostic(for error: YamlError, file: String) -> Diagnostic {
        func location(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let prefix = context.map { "\($0.text) at \($0.mark.line):\($0.mark.column): " } ?? ""
            return Diagnostic(location: location(mark), keyPath: "", message: "invalid YAML: \(prefix)\(problem)")
        case let .reader(problem, offset, _, yaml):
            let (line, column) = lineColumn(ofUTF8Offset: offset ?? 0, in: yaml)
            return Diagnostic(location: SourceLocation(file: file, line: line, column: column), keyPath: "", message: "invalid YAML: \(problem)")
        default:
            return Diagnostic(location: SourceLocation(file: file, line: 1, column: 1), keyPath: "", message: "invalid YAML: \(error)")
        }
    }

    static func lineColumn(ofUTF8Offset offset: Int, in text: String) -> (Int, Int) {
        var line = 1, column = 1, seen = 0
        for scalar in text.unicodeScalars {
            if seen >= offset { break }
            seen += String(scalar).utf8.count
            if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return (line, column)
    }

    static func firstInvalidUTF8(in data: Data) -> (Int, Int) {
        var iterator = data.makeIterator()
        var decoder = UTF8()
        var line = 1, column = 1
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
            case .emptyInput, .error:
                return (line, column)
            }
        }
    }

    static func firstControlCharacter(in text: String) -> (Int, Int, UInt32)? {
        var line = 1, column = 1
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if (value < 0x20 && value != 0x09 && value != 0x0A && value != 0x0D) || value == 0x7F || (0xFFFE...0xFFFF).contains(value) {
                return (line, column, value)
            }
            if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return nil
    }

    /// Converts Yams nodes, rejecting duplicate and non-scalar keys and counting nodes.
    struct Converter {
        let file: String
        var diagnostics: [Diagnostic] = []
        var nodeCount = 0
        var exhausted = false

        init(file: String) { self.file = file }

        func location(_ mark: Mark?) -> SourceLocation {
            SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
        }

        mutating func convert(_ node: Node, depth: Int) -> SourceNode {
            nodeCount += 1
            if nodeCount > YAMLLoader.maximumNodes || depth > YAMLLoader.maximumDepth {
                if !exhausted {
                    exhausted = true
                    let message = depth > YAMLLoader.maximumDepth
                        ? "nesting is deeper than \(YAMLLoader.maximumDepth) levels (through aliases)"
                        : "document expands to more than \(YAMLLoader.maximumNodes) values (an alias bomb?)"
                    diagnostics.append(Diagnostic(location: location(node.mark), keyPath: "", message: message))
                }
                return .scalar("", isPlain: true, location(node.mark))
            }
            switch node {
            case .scalar(let scalar):
                return .scalar(scalar.string, isPlain: scalar.style == .plain, location(scalar.mark))
            case .sequence(let sequence):
                var items: [SourceNode] = []
                for item in sequence where !exhausted { items.append(convert(item, depth: depth + 1)) }
                return .sequence(items, location(sequence.mark))
            case .mapping(let mapping):
                var entries: [SourceEntry] = []
                var seen: [String: SourceLocation] = [:]
                var merged: [SourceEntry] = []
                for (key, value) in mapping where !exhausted {
                    if case .scalar(let keyScalar) = key, keyScalar.string == "<<", keyScalar.style == .plain {
                        merged += mergeEntries(value, depth: depth)
                        continue
                    }
                    guard case .scalar(let keyScalar) = key else {
                        diagnostics.append(Diagnostic(location: location(key.mark), keyPath: "",
                                                      message: "expected a string key, found \(key.mapping != nil ? "a mapping" : "a list")"))
                        continue
                    }
                    let keyLocation = location(keyScalar.mark)
                    if let first = seen[keyScalar.string] {
                        diagnostics.append(Diagnostic(location: keyLocation, keyPath: keyScalar.string,
                                                      message: "duplicate key (first defined at \(first.line):\(first.column))"))
                        continue
                    }
                    seen[keyScalar.string] = keyLocation
                    entries.append(SourceEntry(key: keyScalar.string, keyLocation: keyLocation, value: convert(value, depth: depth + 1)))
                }
                // Merge keys (`<<: *base`) supply keys the mapping does not set itself; the first merged wins.
                for entry in merged where seen[entry.key] == nil {
                    seen[entry.key] = entry.keyLocation
                    entries.append(entry)
                }
                return .mapping(entries, location(mapping.mark))
            }
        }

        /// The entries a `<<` value contributes: a mapping, or a list of mappings.
        mutating func mergeEntries(_ value: Node, depth: Int) -> [SourceEntry] {
            let sources: [Node]
            switch value {
            case .mapping: sources = [value]
            case .sequence(let items): sources = Array(items)
            case .scalar:
                diagnostics.append(Diagnostic(location: location(value.mark), keyPath: "<<", message: "expected a mapping or a list of mappings to merge, found a scalar"))
                return []
            }
            var entries: [SourceEntry] = []
            for source in sources {
                guard source.mapping != nil else {
                    diagnostics.append(Diagnostic(location: location(source.mark), keyPath: "<<", message: "expected a mapping to merge, found \(source.sequence != nil ? "a list" : "a scalar")"))
                    continue
                }
                if case .mapping(let converted, _) = convert(source, depth: depth + 1) {
                    entries += converted.filter { new in !entries.contains { $0.key == new.key } }
                }
            }
            return entries
        }
    }
}

extension String {
    /// Decodes UTF-8, returning nil (not repairing) when the bytes are not valid UTF-8.
    init?(validatingUTF8Data data: Data) {
        guard let decoded = String(data: data, encoding: .utf8) else { return nil }
        self = decoded
    }
}
