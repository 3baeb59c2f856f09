import Foundation
import PipelineDSL
import Datasets
import Engine

/// The `imbalance` stage kind: the long-tailed training subset of a `dataset` stage's artifact,
/// selected exactly as the reference (and LDAM-DRW) does with `LongTail.select` (docs/method.md).
///
/// Recipe: one input `data` of kind `dataset`; parameters `profile` (exp, step, none), `factor`
/// (ρ in (0, 1]) and `seed` (numpy `RandomState` seed, its own — the recipe's seed does not enter).
/// Artifact: a `DataArtifact` (train = the selected subset in selection order, test unchanged),
/// `indices.npy` (int64, the selected indices into the dataset's training split) and
/// `class_counts.json`. It records the metric `class_counts`.
public enum ImbalanceStage {
    /// The kind's name in recipes.
    public static let name = "imbalance"
    /// The selected indices into the input's training split, int64, shape [N].
    public static let indicesFile = "indices.npy"
    /// Images kept per class with the class names and the selection's parameters.
    public static let classCountsFile = "class_counts.json"

    /// The stage kind to register.
    public static let kind = StageKind(
        name: name, version: 1,
        summary: "keeps a long-tailed subset of the training images (n_c = n_max · factor^(c/(C−1)) for exp)",
        settings: Settings.self,
        inputs: [.one("data", of: DatasetStage.name)],
        usesSeed: false,
        run: { context in try run(context) })

    /// The settings of an `imbalance` stage, typed.
    public struct Settings: StageSettings, Equatable {
        /// The profile of the class sizes.
        public var profile = LongTail.Profile.none
        /// The imbalance factor ρ = n_min / n_max.
        public var factor = 0.0
        /// The seed of numpy's legacy RandomState that shuffles each class.
        public var seed = 0

        public static let unset = Settings()

        public static let fields: [SettingsField<Settings>] = [
            .choice("profile", \.profile, default: .exp,
                    doc: "exp: n_c = int(n_max·factor^(c/(C−1))); step: half the classes keep n_max, half int(n_max·factor); none: all keep n_max"),
            .float("factor", \.factor, default: 0.01, range: .openClosed(0, 1),
                   doc: "the imbalance factor ρ = n_min / n_max (0.01 is an imbalance ratio of 100)"),
            .int("seed", \.seed, default: 0, range: .closed(0, Double(UInt32.max)),
                 doc: "seed of numpy's legacy RandomState that shuffles each class before the first n_c are kept"),
        ]
    }

    /// What `class_counts.json` holds (snake_case keys: `counts`, `class_names`, `profile`, `factor`, `seed`).
    public struct ClassCounts: Codable, Equatable, Sendable {
        /// Images kept per class, `counts[c]` = n_c.
        public var counts: [Int]
        /// The class names, in label order.
        public var classNames: [String]
        /// The profile used.
        public var profile: String
        /// The imbalance factor ρ.
        public var factor: Double
        /// The selection seed.
        public var seed: Int

        private enum CodingKeys: String, CodingKey {
            case counts, profile, factor, seed
            case classNames = "class_names"
        }

        /// Creates the record.
        public init(counts: [Int], classNames: [String], profile: String, factor: Double, seed: Int) {
            self.counts = counts
            self.classNames = classNames
            self.profile = profile
            self.factor = factor
            self.seed = seed
        }
    }

    /// Selects the subset of the `data` input and writes the artifact.
    static func run(_ context: RunContext) throws {
        let source = try DataArtifact.read(from: context.input("data").artifactDirectory)
        let settings = Settings(context.parameters)
        let (profile, factor, seed) = (settings.profile, settings.factor, settings.seed)
        guard source.trainImages.classNames.count >= 2 else {
            throw RunError("stage '\(context.stageName)' (imbalance): the data set has \(source.trainImages.classNames.count) class(es); a long-tailed subset needs at least 2")
        }
        let selection = try LongTail.select(labels: source.trainImages.labels, classCount: source.trainImages.classNames.count,
                                            profile: profile, factor: factor, seed: UInt32(seed))
        let artifact = DataArtifact(trainImages: source.trainImages.subset(selection.indices), testImages: source.testImages, source: source.source)
        try artifact.write(to: context.outputDirectory)
        try NPY.write(HostArray(int64s: selection.indices.map { Int64($0) }, shape: [selection.indices.count]),
                      to: context.outputDirectory.appendingPathComponent(indicesFile))
        let counts = ClassCounts(counts: selection.classCounts, classNames: source.trainImages.classNames,
                                 profile: profile.rawValue, factor: factor, seed: seed)
        try ArtifactJSON.write(counts, to: context.outputDirectory.appendingPathComponent(classCountsFile), escapingSlashes: false)

        let largest = selection.classCounts.max() ?? 0, smallest = selection.classCounts.filter { $0 > 0 }.min() ?? 0
        context.log("\(profile.rawValue) profile, factor \(factor), seed \(seed): kept \(selection.indices.count) of \(source.trainImages.labels.count) training images, "
                    + "\(largest) to \(smallest) per class (ratio \(smallest > 0 ? String(format: "%.1f", Double(largest) / Double(smallest)) : "∞"))")
        context.recordMetrics(["class_counts": .list(selection.classCounts.map { .int($0) })])
    }

    /// Reads `class_counts.json` from an imbalance artifact folder.
    public static func readClassCounts(from directory: URL) throws -> ClassCounts {
        try ArtifactJSON.read(ClassCounts.self, from: directory.appendingPathComponent(classCountsFile),
                              artifact: "imbalance", contents: "class counts")
    }
}
