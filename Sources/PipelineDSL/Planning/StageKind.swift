/// A slot of inputs a stage kind accepts: which kinds may fill it and how many.
///
/// A stage lists its inputs by name in the recipe (`inputs: [data, aug, clusters, loss]`); each
/// named stage is assigned to the first slot that accepts its kind and still has room.
public struct InputSlot: Sendable {
    /// A role name for messages and for `RunContext.input(_:)`, e.g. `data`.
    public var name: String
    /// The stage kinds that may fill it, e.g. `["dataset", "imbalance"]`.
    public var kinds: [String]
    /// The fewest stages the slot needs.
    public var minCount: Int
    /// The most stages the slot takes.
    public var maxCount: Int

    /// Creates a slot.
    public init(name: String, kinds: [String], minCount: Int = 1, maxCount: Int = 1) {
        precondition(minCount >= 0 && maxCount >= max(1, minCount), "InputSlot(\(name)): bad counts \(minCount)...\(maxCount)")
        self.name = name
        self.kinds = kinds
        self.minCount = minCount
        self.maxCount = maxCount
    }

    /// Exactly one stage of one of `kinds`.
    public static func one(_ name: String, of kinds: String...) -> InputSlot {
        InputSlot(name: name, kinds: kinds)
    }

    /// At most one stage of one of `kinds`.
    public static func optional(_ name: String, of kinds: String...) -> InputSlot {
        InputSlot(name: name, kinds: kinds, minCount: 0, maxCount: 1)
    }
}

/// A kind of stage: its name, version, parameters, inputs and the work it does.
///
/// Kinds are registered in a `StageRegistry`; the real ones live in module `Stages`, one file each.
/// Raising `version` invalidates every cached artifact of the kind (it is part of the hash).
public struct StageKind: Sendable {
    /// The name used as `kind:` in recipes, e.g. `contrastive_loss`.
    public var name: String
    /// The implementation's version; bump it when the artifact a stage writes changes.
    public var version: Int
    /// One line describing the kind, for `plan` and the JSON schema.
    public var summary: String
    /// The parameters the kind accepts.
    public var parameters: [Parameter]
    /// The input slots; an input the slots cannot place is an error.
    public var inputs: [InputSlot]
    /// A light stage only carries configuration: its artifact is its resolved parameters
    /// (`params.json`); `run` is never called for it, but it is hashed and cached like the others.
    public var isLight: Bool
    /// Whether the recipe's `seed` enters this kind's hash (true for anything random).
    public var usesSeed: Bool
    /// Checks what the parameter ranges cannot say (one parameter against another) at plan time;
    /// a thrown error becomes a recipe diagnostic on the stage. Not part of the hash.
    public var validate: (@Sendable (ResolvedParameters) throws -> Void)?
    /// Checks the stage against the stages that feed it (an encoder's epochs against its
    /// clustering input's warm-up) at plan time; a thrown `RecipeError` keeps its diagnostics, any
    /// other error becomes a diagnostic on the stage. Not part of the hash.
    public var validateWithInputs: (@Sendable (MemoryQuery) throws -> Void)?
    /// Extra hash material computed at plan time from the resolved parameters, e.g. the digests
    /// of a data set's source files. A thrown error becomes a recipe diagnostic on the stage.
    public var hashMaterial: (@Sendable (ResolvedParameters) throws -> String)?
    /// Set for a kind whose `run` every rank of a data-parallel job executes together (training);
    /// nil: rank 0 alone computes it and the other ranks wait for its cache entry.
    public var dataParallel: DataParallelism?
    /// The parameters that have no effect under the given ones (MoCo settings of a CIFAR ResNet
    /// encoder): left out of the hash, so adding such a parameter keeps every existing entry.
    public var inapplicableParameters: (@Sendable (ResolvedParameters) -> Set<String>)?
    /// Why the stage cannot run on this machine (its data files are not here), or nil when it can.
    /// Such a stage still plans — its hash then stands for "data missing", and `plan` shows the
    /// reason — but a run that would compute it is refused before anything runs.
    public var availability: (@Sendable (ResolvedParameters) -> String?)?
    /// The estimated peak memory of one process running the stage (training kinds); nil: small.
    /// A thrown error becomes a recipe diagnostic on the stage, like `hashMaterial`'s.
    public var memoryEstimate: (@Sendable (MemoryQuery) throws -> MemoryEstimate?)?
    /// The work: reads inputs, writes artifact files into `context.outputDirectory`.
    public var run: @Sendable (RunContext) throws -> Void

    /// Creates a stage kind.
    public init(name: String, version: Int, summary: String, parameters: [Parameter], inputs: [InputSlot] = [],
                isLight: Bool = false, usesSeed: Bool = true,
                hashMaterial: (@Sendable (ResolvedParameters) throws -> String)? = nil,
                dataParallel: DataParallelism? = nil,
                memoryEstimate: (@Sendable (MemoryQuery) throws -> MemoryEstimate?)? = nil,
                inapplicableParameters: (@Sendable (ResolvedParameters) -> Set<String>)? = nil,
                availability: (@Sendable (ResolvedParameters) -> String?)? = nil,
                validate: (@Sendable (ResolvedParameters) throws -> Void)? = nil,
                run: @escaping @Sendable (RunContext) throws -> Void) {
        self.validate = validate
        self.availability = availability
        self.inapplicableParameters = inapplicableParameters
        self.dataParallel = dataParallel
        self.memoryEstimate = memoryEstimate
        self.name = name
        self.version = version
        self.summary = summary
        self.parameters = parameters
        self.inputs = inputs
        self.isLight = isLight
        self.usesSeed = usesSeed
        self.hashMaterial = hashMaterial
        self.run = run
    }

    /// Creates a light kind: configuration only, nothing to run.
    public static func light(name: String, version: Int, summary: String, parameters: [Parameter],
                             inputs: [InputSlot] = [], usesSeed: Bool = false,
                             inapplicableParameters: (@Sendable (ResolvedParameters) -> Set<String>)? = nil) -> StageKind {
        StageKind(name: name, version: version, summary: summary, parameters: parameters, inputs: inputs,
                  isLight: true, usesSeed: usesSeed, inapplicableParameters: inapplicableParameters, run: { _ in })
    }
}

extension StageKind {
    /// Creates a kind whose parameters are a `StageSettings` table: the parameter list comes from
    /// it, the settings' `validate()` runs at plan time, and the hooks receive the decoded settings.
    public init<Settings: StageSettings>(
        name: String, version: Int, summary: String, settings: Settings.Type, inputs: [InputSlot] = [],
        isLight: Bool = false, usesSeed: Bool = true,
        hashMaterial: (@Sendable (Settings) throws -> String)? = nil,
        dataParallel: DataParallelism? = nil,
        memoryEstimate: (@Sendable (MemoryQuery) throws -> MemoryEstimate?)? = nil,
        inapplicableParameters: (@Sendable (Settings) -> Set<String>)? = nil,
        availability: (@Sendable (Settings) -> String?)? = nil,
        run: @escaping @Sendable (RunContext) throws -> Void
    ) {
        var typedMaterial: (@Sendable (ResolvedParameters) throws -> String)?
        if let hashMaterial { typedMaterial = { parameters in try hashMaterial(Settings(parameters)) } }
        var typedInapplicable: (@Sendable (ResolvedParameters) -> Set<String>)?
        if let inapplicableParameters { typedInapplicable = { parameters in inapplicableParameters(Settings(parameters)) } }
        var typedAvailability: (@Sendable (ResolvedParameters) -> String?)?
        if let availability { typedAvailability = { parameters in availability(Settings(parameters)) } }
        let validate: @Sendable (ResolvedParameters) throws -> Void = { parameters in try Settings(parameters).validate() }
        self.init(name: name, version: version, summary: summary, parameters: Settings.parameters, inputs: inputs,
                  isLight: isLight, usesSeed: usesSeed, hashMaterial: typedMaterial, dataParallel: dataParallel,
                  memoryEstimate: memoryEstimate, inapplicableParameters: typedInapplicable, availability: typedAvailability,
                  validate: validate, run: run)
    }

    /// Creates a light kind (configuration only) whose parameters are a `StageSettings` table.
    public static func light<Settings: StageSettings>(
        name: String, version: Int, summary: String, settings: Settings.Type, inputs: [InputSlot] = [], usesSeed: Bool = false,
        inapplicableParameters: (@Sendable (Settings) -> Set<String>)? = nil
    ) -> StageKind {
        StageKind(name: name, version: version, summary: summary, settings: settings, inputs: inputs, isLight: true,
                  usesSeed: usesSeed, inapplicableParameters: inapplicableParameters, run: { _ in })
    }
}

/// How a data-parallel kind's artifact depends on the number of ranks N.
public struct DataParallelism: Sendable {
    /// Whether the artifact for these parameters depends on N beyond rounding (per-rank batch
    /// norm: each rank normalises its own slice). When it does, N enters the stage's hash on a
    /// run with N > 1 ranks, so an artifact is never reused for a numerically different setting.
    public var dependsOnRanks: @Sendable (ResolvedParameters) -> Bool
    /// Parameters that only choose how ranks cooperate (`sync_batchnorm`): on one process they
    /// change nothing, and on several their effect is what `dependsOnRanks` says, so they stay out
    /// of the hash (adding one keeps every existing entry's hash).
    public var rankParameters: Set<String>

    /// Creates the description.
    public init(rankParameters: Set<String> = [], dependsOnRanks: @escaping @Sendable (ResolvedParameters) -> Bool) {
        self.rankParameters = rankParameters
        self.dependsOnRanks = dependsOnRanks
    }

    /// Creates the description of a kind with typed settings.
    public init<Settings: StageSettings>(rankParameters: Set<String> = [], dependsOnRanks: @escaping @Sendable (Settings) -> Bool) {
        self.init(rankParameters: rankParameters) { dependsOnRanks(Settings($0)) }
    }
}

/// The stage kinds a recipe may use, by name.
public struct StageRegistry: Sendable {
    /// Registered kinds by name.
    public private(set) var kinds: [String: StageKind] = [:]

    /// An empty registry.
    public init() {}

    /// Adds a kind; registering one name twice is a programmer error.
    public mutating func register(_ kind: StageKind) {
        precondition(kinds[kind.name] == nil, "StageRegistry.register: kind '\(kind.name)' registered twice")
        precondition(!kind.name.isEmpty && kind.name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" },
                     "StageRegistry.register: kind name '\(kind.name)' must be snake_case")
        kinds[kind.name] = kind
    }

    /// The kind called `name`, if registered.
    public func kind(named name: String) -> StageKind? { kinds[name] }

    /// All kind names, sorted.
    public var names: [String] { kinds.keys.sorted() }
}
