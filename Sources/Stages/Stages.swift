import PipelineDSL

/// The stage kinds that join the pipeline to the engine and the data.
public enum Stages {
    /// Registers every real stage kind; `sbcl-run` builds its registry through this hook.
    ///
    /// Each kind lives in its own file and adds one `registry.register(...)` line here.
    public static func registerAll(in registry: inout StageRegistry) {
        registry.register(DatasetStage.kind)
        registry.register(ImbalanceStage.kind)
        registry.register(AugmentationStage.kind)
        registry.register(ClusteringStage.kind)
        registry.register(ContrastiveLossStage.kind)
        registry.register(EncoderStage.kind)
        registry.register(ClassifierStage.kind)
        registry.register(EvaluationStage.kind)
    }

    /// The recipe `sbcl-run` runs when given no recipe file: a name for messages and the YAML
    /// text — `recipes/fashion_mnist_lt.yaml` (real Fashion-MNIST, imbalance 100, ≤ 15 min on 2 cores).
    public static let defaultRecipe: (name: String, yaml: String)? = ("fashion_mnist_lt", fashionMNISTRecipe)
}
