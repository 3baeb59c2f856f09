import PipelineDSL

/// The `clustering` stage kind: when the first stage re-clusters and how (docs/method.md).
public enum ClusteringStage {
    /// The kind's name in recipes.
    public static let name = "clustering"

    /// The light kind: its artifact is its resolved parameters.
    public static let kind = StageKind.light(
        name: name, version: 1,
        summary: "the re-clustering schedule and k-means settings of the first stage",
        settings: Settings.self)

    /// How subclasses are found within a class.
    public enum Method: String, CaseIterable, Sendable {
        /// k-means under cosine distance (the reference).
        case kmeans
        /// Equal-size clusters.
        case balanced
    }

    /// Where the rank loss's class temperatures come from.
    public enum TemperatureMode: String, CaseIterable, Sendable {
        /// From the class densities (the reference).
        case density
        /// τ for every class.
        case constant
    }

    /// The settings of a `clustering` stage (or input), typed.
    public struct Settings: StageSettings, Equatable {
        /// Epochs of plain SupCon before re-clustering starts.
        public var warmupEpochs = 0
        /// Epochs between re-clusterings.
        public var every = 0
        /// M of the cluster-count formula.
        public var minimumClusterSize = 0
        /// k-means or balanced clusters.
        public var method = Method.kmeans
        /// k-means iteration limit.
        public var maxIterations = 0
        /// k-means tolerance on the squared centre shift.
        public var tolerance = 0.0
        /// Class temperatures from the densities or τ for all classes.
        public var temperatureMode = TemperatureMode.density

        public static let fields: [SettingsField<Settings>] = [
            .int("warmup_epochs", \.warmupEpochs, default: 10, range: .atLeast(0),
                 doc: "epochs 1...warmup_epochs train with plain SupCon before the first re-clustering"),
            .int("every", \.every, default: 10, range: .atLeast(1), doc: "re-cluster every this many epochs after the warm-up"),
            .int("min_cluster_size", \.minimumClusterSize, default: 10, range: .atLeast(1),
                 doc: "M of k_c = max(1, floor(n_c / max(min_c n_c, M))) (10 for CIFAR, 20 for ImageNet-LT)"),
            .choice("method", \.method, default: .kmeans,
                    doc: "k-means under cosine distance, or balanced (equal-size clusters)"),
            .int("max_iterations", \.maxIterations, default: 35, range: .atLeast(1), doc: "k-means iteration limit"),
            .float("tolerance", \.tolerance, default: 1e-3, range: .greaterThan(0), doc: "k-means stops when (Σ_k ‖c_k − c_k'‖)² is below this"),
            .choice("temperature_mode", \.temperatureMode, default: .density,
                    doc: "class temperatures of the rank loss: density (the reference) or τ for every class"),
        ]

        public static let unset = Settings()

        /// Balanced (equal-size) k-means instead of plain cosine k-means.
        public var balanced: Bool { method == .balanced }
        /// Class temperatures from the densities (true) or τ for all classes.
        public var densityTemperatures: Bool { temperatureMode == .density }

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
