import Foundation

/// A place in a recipe file or on the command line that a diagnostic points at.
public struct SourceLocation: Sendable, Equatable, Hashable {
    /// The file's path as the user gave it, or `<command line>` for overrides.
    public var file: String
    /// 1-based line; 0 when the location has no line (a command-line argument).
    public var line: Int
    /// 1-based column in Unicode scalars; 0 when unknown.
    public var column: Int

    /// Creates a location.
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, or just `file` when there is no line.
    public var description: String {
        line > 0 ? "\(file):\(line):\(column)" : file
    }
}

/// One problem found in a recipe: where, which key, what was expected and found, and a fix.
public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
    /// Where the problem is.
    public var location: SourceLocation
    /// The dotted key path of the offending value, e.g. `stages.loss.temperature`; empty for the document.
    public var keyPath: String
    /// What was expected and what was found, in one sentence without a trailing period.
    public var message: String
    /// The closest valid name when a name looks misspelt.
    public var suggestion: String?

    /// Creates a diagnostic.
    public init(location: SourceLocation, keyPath: String, message: String, suggestion: String? = nil) {
        self.location = location
        self.keyPath = keyPath
        self.message = message
        self.suggestion = suggestion
    }

    /// `file:line:col: error: key.path: message; did you mean 'x'?`
    public var description: String {
        var text = "\(location.description): error: "
        if !keyPath.isEmpty { text += "\(keyPath): " }
        text += message
        if let suggestion { text += "; did you mean '\(suggestion)'?" }
        return text
    }
}

/// A recipe (or its overrides) is invalid: every problem found, in file order.
public struct RecipeError: Error, Sendable, CustomStringConvertible {
    /// All diagnostics, sorted by file, line and column.
    public var diagnostics: [Diagnostic]

    /// Creates an error from diagnostics, sorting them by location.
    public init(_ diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics.sorted { a, b in
            (a.location.file, a.location.line, a.location.column) < (b.location.file, b.location.line, b.location.column)
        }
    }

    /// One line per diagnostic.
    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}

/// The command line was malformed (unknown option, missing argument): exit status 2.
public struct UsageError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and how to call the command instead.
    public var message: String

    /// Creates a usage error.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}

/// A stage or the cache failed while running: exit status 1.
public struct RunError: Error, Sendable, CustomStringConvertible {
    /// What failed, naming the stage when there is one.
    public var message: String

    /// Creates a run error.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}

/// Finds the closest name to a misspelt one.
public enum Suggestion {
    /// The candidate nearest to `name` by edit distance, if it is close enough to be a likely typo.
    ///
    /// "Close enough" is at most a third of the longer name's length (at least 1 edit), or a
    /// candidate that differs only in case, `-` versus `_`, or contains `name` as a prefix.
    public static func closest<S: Sequence>(to name: String, among candidates: S) -> String? where S.Element == String {
        let normalised = name.lowercased().replacingOccurrences(of: "-", with: "_")
        var best: (String, Int)?
        for candidate in candidates {
            if candidate.lowercased() == normalised { return candidate }
            let distance = editDistance(normalised, candidate.lowercased())
            if best == nil || distance < best!.1 || (distance == best!.1 && candidate < best!.0) {
                best = (candidate, distance)
            }
        }
        guard let (candidate, distance) = best else { return nil }
        let limit = max(1, max(name.count, candidate.count) / 3)
        // Replacing every character of a short name is not a typo ('c' is not a misspelt 'a').
        if distance <= limit && distance < max(name.count, candidate.count) { return candidate }
        if normalised.count >= 3, candidate.lowercased().hasPrefix(normalised) { return candidate }
        return nil
    }

    /// Damerau–Levenshtein distance (optimal string alignment) in characters.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous2 = [Int](repeating: 0, count: y.count + 1)
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            previous2 = previous
            previous = current
        }
        return previous[y.count]
    }
}
