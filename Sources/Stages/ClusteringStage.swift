import PipelineDSL

/// The `clustering` stage kind: when the first stage re-clusters and how (SPEC §1).
public enum ClusteringStage {
    /// The kind's name in recipes.
    public static let name = "clustering"

    /// The light kind: its artifact is its resolved parameters.
    public static let kind = StageKind.light(
        name: name, version: 1,
        summary: "the re-clustering schedule and k-means settings of the first stage",
        parameters: [
            .int("warmup_epochs", default: 10, range: .atLeast(0),
                 doc: "epochs 1...warmup_epochs train with plain SupCon before the first re-clustering"),
            .int("every", default: 10, range: .atLeast(1), doc: "re-cluster every this many epochs after the warm-up"),
            .int("min_cluster_size", default: 10, range: .atLeast(1),
                 doc: "M of k_c = max(1, floor(n_c / max(min_c n_c, M))) (10 for CIFAR, 20 for ImageNet-LT)"),
            .choice("method", ["kmeans", "balanced"], default: "kmeans",
                    doc: "k-means under cosine distance, or balanced (equal-size clusters)"),
            .int("max_iterations", default: 35, range: .atLeast(1), doc: "k-means iteration limit"),
            .float("tolerance", default: 1e-3, range: .greaterThan(0), doc: "k-means stops when (Σ_k ‖c_k − c_k'‖)² is below this"),
            .choice("temperature_mode", ["density", "constant"], default: "density",
                    doc: "class temperatures of the rank loss: density (the reference) or τ for every class"),
        ])

    /// The settings of a `clustering` input, typed.
    public struct Settings: Sendable, Equatable {
        /// Epochs of plain SupCon before re-clustering starts.
        public var warmupEpochs: Int
        /// Epochs between re-clusterings.
        public var every: Int
        /// M of the cluster-count formula.
        public var minimumClusterSize: Int
        /// Balanced (equal-size) k-means instead of plain cosine k-means.
        public var balanced: Bool
        /// k-means iteration limit.
        public var maxIterations: Int
        /// k-means tolerance on the squared centre shift.
        public var tolerance: Double
        /// Class temperatures from the densities (true) or τ for all classes.
        public var densityTemperatures: Bool

        /// Settings with the reference's defaults unless given.
        public init(warmupEpochs: Int = 10, every: Int = 10, minimumClusterSize: Int = 10, balanced: Bool = false,
                    maxIterations: Int = 35, tolerance: Double = 1e-3, densityTemperatures: Bool = true) {
            self.warmupEpochs = warmupEpochs
            self.every = every
            self.minimumClusterSize = minimumClusterSize
            self.balanced = balanced
            self.maxIterations = maxIterations
            self.tolerance = tolerance
            self.densityTemperatures = densityTemperatures
        }

        /// Reads resolved `clustering` parameters.
        public init(_ parameters: ResolvedParameters) {
            self.init(warmupEpochs: parameters.int("warmup_epochs"), every: parameters.int("every"),
                      minimumClusterSize: parameters.int("min_cluster_size"), balanced: parameters.string("method") == "balanced",
                      maxIterations: parameters.int("max_iterations"), tolerance: parameters.double("tolerance"),
                      densityTemperatures: parameters.string("temperature_mode") == "density")
        }

        /// Whether epoch `epoch` (counted from 1) trains with plain SupCon (the warm-up).
        public func isWarmup(epoch: Int) -> Bool { epoch <= warmupEpochs }

        /// Whether the subclasses are recomputed at the start of epoch `epoch` (counted from 1):
        /// after the warm-up, when (epoch − 1 − warmup_epochs) is a multiple of `every`.
        public func reclusters(atEpoch epoch: Int) -> Bool {
            epoch > warmupEpochs && (epoch - 1 - warmupEpochs) % every == 0
        }

        /// The last epoch ≤ `epoch` at which the subclasses were recomputed, nil while in warm-up.
        public func lastReclustering(atOrBefore epoch: Int) -> Int? {
            guard epoch > warmupEpochs else { return nil }
            return epoch - (epoch - 1 - warmupEpochs) % every
        }
    }
}
