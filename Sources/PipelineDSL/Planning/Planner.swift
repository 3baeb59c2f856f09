import Crypto
import Foundation

/// One stage of a plan: its spec, kind, hash and the material the hash was computed over.
public struct PlannedStage: Sendable {
    /// The stage as validated.
    public var spec: StageSpec
    /// Its kind.
    public var kind: StageKind
    /// Lowercase hex SHA-256 of `hashInput`.
    public var hash: String
    /// The canonical JSON hashed: kind, version, parameters, input hashes, seed, extra material.
    public var hashInput: String
    /// The hashes of its inputs, parallel to `spec.inputs`.
    public var inputHashes: [String]
    /// The number of data-parallel ranks that entered the hash (see `DataParallelism`); nil when
    /// the artifact does not depend on it.
    public var ranksInHash: Int?
    /// The estimated peak memory per process (training stages; see `StageKind.memoryEstimate`).
    public var memory: MemoryEstimate?
    /// Why the stage cannot run here (`StageKind.availability`); nil when it can.
    public var unavailable: String?

    /// The stage's name.
    public var name: String { spec.name }
}

/// A validated recipe in topological order with a hash per stage.
public struct Plan: Sendable {
    /// The recipe.
    public var recipe: Recipe
    /// Stages in dependency order (ties broken by file order).
    public var stages: [PlannedStage]

    /// The planned stage called `name`.
    public func stage(named name: String) -> PlannedStage? { stages.first { $0.name == name } }
}

/// Parse → overrides → defaults → validation → topological order → hashes.
public enum Planner {
    /// Loads a recipe file's bytes, applies overrides and validates it.
    public static func recipe(data: Data, file: String, overrides: [Override], registry: StageRegistry) throws -> Recipe {
        let root = try YAMLLoader.load(data: data, file: file)
        return try recipe(root: root, overrides: overrides, registry: registry)
    }

    /// Loads recipe text, applies overrides and validates it.
    public static func recipe(text: String, file: String, overrides: [Override] = [], registry: StageRegistry) throws -> Recipe {
        try recipe(root: YAMLLoader.load(text: text, file: file), overrides: overrides, registry: registry)
    }

    static func recipe(root: SourceNode, overrides: [Override], registry: StageRegistry) throws -> Recipe {
        // Override errors and recipe errors are reported together when both exist.
        let (tree, overrideDiagnostics) = Override.applyCollecting(overrides, to: root, registry: registry)
        let recipe: Recipe
        do {
            recipe = try RecipeValidator.validate(tree, registry: registry)
        } catch let error as RecipeError {
            throw RecipeError(overrideDiagnostics + error.diagnostics)
        }
        if !overrideDiagnostics.isEmpty { throw RecipeError(overrideDiagnostics) }
        return recipe
    }

    /// Orders a valid recipe's stages and hashes them; extra hash material errors become diagnostics.
    ///
    /// - Parameter ranks: the data-parallel ranks the plan runs on; with more than one, it enters
    ///   the hash of every data-parallel stage whose artifact depends on it (and nothing else's).
    public static func plan(_ recipe: Recipe, registry: StageRegistry, ranks: Int = 1) throws -> Plan {
        var ordered: [PlannedStage] = []
        var hashes: [String: String] = [:]
        var diagnostics: [Diagnostic] = []
        let byName = Dictionary(recipe.stages.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let walk = StageGraph.walk(names: recipe.stages.map(\.name), inputs: byName.mapValues(\.inputs))
        precondition(walk.cycles.isEmpty, "Planner.plan: cycle in a validated recipe: \(walk.cycles)")
        for name in walk.order {
            let spec = byName[name]!
            let kind = registry.kind(named: spec.kind)!
            let inputHashes = spec.inputs.map { hashes[$0]! }
            let inapplicable = kind.inapplicableParameters?(spec.parameters) ?? []
            var material: [String: ParamValue] = [
                "kind": .string(kind.name),
                "version": .int(kind.version),
                "params": .map(spec.parameters.values.filter {
                    kind.dataParallel?.rankParameters.contains($0.key) != true && !inapplicable.contains($0.key)
                }),
                // By slot, so listing an encoder's inputs in another order keeps its hash; the order
                // within a slot that takes several stages is kept, as a kind may depend on it.
                "inputs": .list(zip(spec.inputSlots, inputHashes).enumerated()
                    .sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }
                    .map { .list([.string($0.element.0), .string($0.element.1)]) }),
            ]
            if kind.usesSeed { material["seed"] = .int(recipe.seed) }
            let ranksInHash = ranks > 1 && kind.dataParallel?.dependsOnRanks(spec.parameters) == true ? ranks : nil
            if let ranksInHash { material["ranks"] = .int(ranksInHash) }
            // A thrown error of the kind's checks becomes a diagnostic on the stage.
            func noting<T>(_ body: () throws -> T?) -> T? {
                do {
                    return try body()
                } catch let error as RecipeError {
                    diagnostics += error.diagnostics
                } catch {
                    diagnostics.append(Diagnostic(location: spec.location, keyPath: "stages.\(spec.name)", message: "\(error)"))
                }
                return nil
            }
            _ = noting { try kind.validate?(spec.parameters) }
            _ = noting { try kind.validateWithInputs?(MemoryQuery(spec: spec, stages: byName, ranks: ranks)) }
            let unavailable = kind.availability?(spec.parameters)
            if unavailable != nil {
                material["extra"] = .string("unavailable")
            } else if let hashMaterial = kind.hashMaterial {
                if let extra = noting({ try hashMaterial(spec.parameters) }) { material["extra"] = .string(extra) }
            }
            let memory = kind.memoryEstimate.flatMap { estimate in noting { try estimate(MemoryQuery(spec: spec, stages: byName, ranks: ranks)) } }
            let input = ParamValue.map(material).canonicalJSON
            let hash = sha256Hex(input)
            hashes[spec.name] = hash
            ordered.append(PlannedStage(spec: spec, kind: kind, hash: hash, hashInput: input, inputHashes: inputHashes,
                                        ranksInHash: ranksInHash, memory: memory, unavailable: unavailable))
        }
        if !diagnostics.isEmpty { throw RecipeError(diagnostics) }
        return Plan(recipe: recipe, stages: ordered)
    }

    /// Lowercase hex SHA-256 of the UTF-8 text.
    public static func sha256Hex(_ text: String) -> String {
        sha256Hex(Data(text.utf8))
    }

    /// Lowercase hex SHA-256 of bytes.
    public static func sha256Hex(_ data: Data) -> String {
        hex(SHA256.hash(data: data))
    }

    /// Lowercase hex of bytes (a digest).
    static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
