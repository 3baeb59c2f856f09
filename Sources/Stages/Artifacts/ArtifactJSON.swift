import Foundation
import PipelineDSL

/// The JSON files of stage artifacts (`encoder.json`, `classifier.json`, `class_counts.json`,
/// `metrics.json`, …): written pretty-printed with sorted keys and atomically, read back with an
/// error that names the file and what it should have held.
enum ArtifactJSON {
    /// Writes `value` to `url`. `snakeCaseKeys` converts Swift's camel-case property names.
    static func write<T: Encodable>(_ value: T, to url: URL, escapingSlashes: Bool = true, snakeCaseKeys: Bool = false) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = escapingSlashes ? [.prettyPrinted, .sortedKeys] : [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if snakeCaseKeys { encoder.keyEncodingStrategy = .convertToSnakeCase }
        try encoder.encode(value).write(to: url, options: .atomic)
    }

    /// Reads a `T` from `url`, the file of the `artifact` artifact holding `contents`; a missing
    /// or unreadable file is a `RunError` saying which.
    static func read<T: Decodable>(_ type: T.Type, from url: URL, artifact: String, contents: String) throws -> T {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RunError("\(url.path): the \(artifact) artifact has no \(url.lastPathComponent)")
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw RunError("\(url.path): unreadable \(contents): \(error)")
        }
    }
}
