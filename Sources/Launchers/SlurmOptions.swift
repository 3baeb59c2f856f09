import Foundation
import PipelineDSL

/// The sbatch options given with `--slurm "…"`, split as a shell would split them.
package struct SlurmOptions: Sendable, Equatable {
    /// The words, passed to `sbatch` as they are.
    package var words: [String]

    /// Options sbcl-run sets itself, and why a user may not.
    static let reserved: [String: String] = [
        "--array": "sbcl-run makes one array task per grid point", "-a": "sbcl-run makes one array task per grid point",
        "--wrap": "sbcl-run writes the job script", "--parsable": "sbcl-run reads the job id itself",
    ]

    /// Splits `text` on blanks outside single and double quotes (a backslash escapes the next
    /// character outside single quotes), and checks the options sbcl-run owns are absent.
    package init(parsing text: String) throws {
        var words: [String] = [], current = "", inWord = false
        var quote: Character?
        var escaped = false
        for character in text {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" && quote != "'" {
                escaped = true
                inWord = true
            } else if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "'" || character == "\"" {
                quote = character
                inWord = true
            } else if character.isWhitespace {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(character)
                inWord = true
            }
        }
        if quote != nil || escaped { throw UsageError("--slurm \"\(text)\": unbalanced quote or trailing backslash") }
        if inWord { words.append(current) }
        for word in words {
            let name = word.hasPrefix("--") ? String(word.prefix { $0 != "=" }) : word
            if let reason = Self.reserved[name] { throw UsageError("--slurm: leave out \(name); \(reason)") }
        }
        if let stray = words.first, !stray.hasPrefix("-") {
            throw UsageError("--slurm \"\(text)\": expected sbatch options such as \"--partition=cpu --time=1:00:00\", found '\(stray)'")
        }
        self.words = words
        _ = try ranksPerPoint
    }

    /// The value of an option in any of its spellings: `--name=V`, `--name V`, `-xV`, `-x V`.
    func value(long: String, short: String?) -> String? {
        var found: String?
        for (index, word) in words.enumerated() {
            let next = index + 1 < words.count ? words[index + 1] : nil
            if word.hasPrefix(long + "=") { found = String(word.dropFirst(long.count + 1)) }
            else if word == long { found = next }
            else if let short, word == short { found = next }
            else if let short, word.hasPrefix(short), word.count > short.count, !word.hasPrefix("--") { found = String(word.dropFirst(short.count)) }
        }
        return found
    }

    /// Processes (ranks) each grid point runs as: `--ntasks`, else `--ntasks-per-node` × the
    /// (smallest) `--nodes`, else 1. More than one means the task runs under `srun`.
    package var ranksPerPoint: Int {
        get throws {
            func number(_ long: String, _ short: String?) throws -> Int? {
                guard let text = value(long: long, short: short) else { return nil }
                // --nodes takes a range such as 2-4; the smallest count is what is certain.
                guard let count = Int(text.prefix { $0.isNumber }), count >= 1 else {
                    throw UsageError("--slurm: \(long) \(text): expected a whole number of at least 1")
                }
                return count
            }
            if let tasks = try number("--ntasks", "-n") { return tasks }
            guard let perNode = try number("--ntasks-per-node", nil) else { return 1 }
            return perNode * (try number("--nodes", "-N") ?? 1)
        }
    }
}
