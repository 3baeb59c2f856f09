/// A validated recipe: its name, seed, device and stages with typed, defaulted parameters.
public struct Recipe: Sendable {
    /// The file the recipe came from, as given (or `<embedded>` for the built-in default).
    public var file: String
    /// The recipe's `name`, used for run folder names.
    public var name: String
    /// The run seed handed to every stage (`seed`, default 0).
    public var seed: Int
    /// The requested device: `auto`, `cpu` or `cuda` (default `auto`); not part of any hash.
    public var device: String
    /// The stages in file order.
    public var stages: [StageSpec]

    /// The stage called `name`.
    public func stage(named name: String) -> StageSpec? { stages.first { $0.name == name } }
}

/// One stage of a recipe after validation.
public struct StageSpec: Sendable {
    /// The stage's name (the key under `stages:`); not part of its hash.
    public var name: String
    /// The stage kind's name.
    public var kind: String
    /// The names of the stages it consumes, in recipe order.
    public var inputs: [String]
    /// The input slot each input fills, parallel to `inputs`.
    public var inputSlots: [String]
    /// Parameters after defaults.
    public var parameters: ResolvedParameters
    /// Where the stage's name is written.
    public var location: SourceLocation
}

/// The keys a recipe accepts at the top level.
public enum RecipeKeys {
    /// Top-level keys with their one-line docs.
    public static let topLevel: [(String, String)] = [
        ("name", "the recipe's name; names the run folders"),
        ("seed", "the run seed every random stage derives its generators from (default 0)"),
        ("device", "auto, cpu, cuda, cuda:N (the N-th CUDA GPU), opencl or opencl:cpu (default auto): where tensor stages run; not part of any hash"),
        ("stages", "a map from stage name to {kind, inputs, parameters...}"),
    ]
    /// Keys every stage accepts besides its kind's parameters.
    public static let stageKeys = ["kind", "inputs"]
    /// Values of `device`, besides `cuda:N`.
    public static let devices = ["auto", "cpu", "cuda", "opencl", "opencl:cpu"]
    /// `cuda:N` with N a whole number from 0 to 63, as a JSON-schema pattern.
    public static let cudaOrdinalPattern = "^cuda:(0|[1-9][0-9]?)$"
    /// The devices a message lists.
    public static let deviceSummary = (devices + ["cuda:N"]).joined(separator: ", ")

    /// Whether `text` names a device: one of `devices`, or `cuda:N` (the N-th CUDA GPU, N < 64).
    public static func isDevice(_ text: String) -> Bool {
        if devices.contains(text) { return true }
        guard text.hasPrefix("cuda:"), let ordinal = Int(text.dropFirst(5)), String(ordinal) == text.dropFirst(5) else { return false }
        return (0..<64).contains(ordinal)
    }
}
