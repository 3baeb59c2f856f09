import PipelineDSL

/// The stage kinds that join the pipeline to the engine and the data.
public enum Stages {
    /// What the executable's configuration asks of the stage kinds: plain values, read once from
    /// the environment by `sbcl-run` (the kinds read none).
    public struct Configuration: Sendable, Equatable {
        /// The file per-file source digests are remembered in; nil: compute them every time.
        public var digestCache: String?
        /// The encoder stops with an error after this epoch, once checkpointed (tests of resuming).
        public var stopAfterEpoch: Int?

        /// Nothing remembered, nothing stopped.
        public init(digestCache: String? = nil, stopAfterEpoch: Int? = nil) {
            self.digestCache = digestCache
            self.stopAfterEpoch = stopAfterEpoch
        }
    }

    /// Registers every real stage kind, running with `configuration`; `sbcl-run` builds its
    /// registry through this hook.
    ///
    /// Each kind lives in its own file and adds one `registry.register(...)` line here.
    public static func registerAll(in registry: inout StageRegistry, configuration: Configuration = Configuration()) {
        registry.register(DatasetStage.kind(digestCache: configuration.digestCache))
        registry.register(ImbalanceStage.kind)
        registry.register(AugmentationStage.kind)
        registry.register(ClusteringStage.kind)
        registry.register(ContrastiveLossStage.kind)
        var encoder = EncoderStage.kind
        if let stop = configuration.stopAfterEpoch {
            encoder.run = { context in try EncoderStage.run(context, stopAfterEpoch: stop) }
        }
        registry.register(encoder)
        registry.register(ClassifierStage.kind)
        registry.register(EvaluationStage.kind)
    }

    /// The recipe `sbcl-run` runs when given no recipe file: a name for messages and the YAML
    /// text — `recipes/fashion_mnist_lt.yaml` (real Fashion-MNIST, imbalance 100, ≤ 15 min on 2 cores).
    public static let defaultRecipe: (name: String, yaml: String)? = ("fashion_mnist_lt", fashionMNISTRecipe)
}

extension DatasetStage {
    /// The kind, remembering per-file source digests in `digestCache` (nil: computed every time).
    public static func kind(digestCache: String?) -> StageKind {
        var kind = self.kind
        if let digestCache { kind.hashMaterial = { parameters in try hashMaterial(Settings(parameters), digestCache: digestCache) } }
        return kind
    }
}
