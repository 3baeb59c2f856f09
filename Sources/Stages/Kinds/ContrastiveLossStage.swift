import PipelineDSL
import Engine

/// The `contrastive_loss` stage kind: the first-stage loss and its temperatures (docs/method.md), or the
/// cross-entropy baseline that trains the encoder as a plain classifier.
public enum ContrastiveLossStage {
    /// The kind's name in recipes.
    public static let name = "contrastive_loss"

    /// The light kind: its artifact is its resolved parameters.
    public static let kind = StageKind.light(
        name: name, version: 2,
        summary: "the first-stage loss: SBCL (rank or ccl variant), plain SupCon, or cross-entropy (the baseline)",
        settings: Settings.self,
        // Only MoCo encoders read it: at its default it keeps every existing entry's hash.
        inapplicableParameters: { s in s.classTemperature == Settings.defaults.classTemperature ? ["class_temperature"] : [] })

    /// The loss a `contrastive_loss` stage names.
    public enum Variant: String, CaseIterable, Sendable {
        /// SBCL with the rank class term (class temperatures, P(i) over N(i)).
        case rank
        /// SBCL with the ccl class term (plain SupCon).
        case ccl
        /// Plain SupCon (a baseline; no re-clustering).
        case supcon
        /// Cross-entropy through the encoder's linear layer (the plain baseline).
        case ce
        /// MoCo encoders only: KCL for every epoch, no re-clustering (the KCL baseline SBCL is
        /// measured against; the reference has no switch for it — its `main.py` always changes to
        /// the SBCL loss at half the epochs).
        case kcl
    }

    /// The settings of a `contrastive_loss` stage (or input), typed.
    public struct Settings: StageSettings, Equatable {
        /// The loss.
        public var variant = Variant.rank
        /// τ of the subclass term (and of supcon).
        public var temperature = 0.0
        /// τ_base of the SBCL losses.
        public var baseTemperature = 0.0
        /// γ, the weight of the class term.
        public var gamma = 0.0
        /// τ of the warm-up SupCon loss.
        public var warmupTemperature = 0.0
        /// MoCo encoders' rank loss: the fixed class temperature τ_c.
        public var classTemperature = 0.0
        /// τ_base of the plain SupCon loss (the warm-up's and the supcon variant's).
        public var warmupBaseTemperature = 0.0

        public static let unset = Settings()

        public static let fields: [SettingsField<Settings>] = [
            .choice("variant", \.variant, default: .rank,
                    doc: "SBCL with the rank class term (class temperatures, P(i) over N(i)), SBCL with the ccl class term (plain SupCon), supcon alone (a baseline; no re-clustering), ce: cross-entropy through the encoder's linear layer on both views (the plain baseline; no warm-up, no re-clustering, temperatures unused), or kcl: MoCo encoders only, KCL for every epoch (the KCL baseline; no re-clustering)"),
            .float("temperature", \.temperature, default: 0.1, range: .greaterThan(0), doc: "τ of the subclass term (and of supcon)"),
            .float("base_temperature", \.baseTemperature, default: 0.07, range: .greaterThan(0),
                   doc: "τ_base of the SBCL losses (rank, ccl): the subclass term is weighted τ/τ_base"),
            .float("gamma", \.gamma, default: 0.25, range: .atLeast(0), doc: "γ, the weight of the class term"),
            .float("warmup_temperature", \.warmupTemperature, default: 0.1, range: .greaterThan(0), doc: "τ of the warm-up SupCon loss"),
            .float("class_temperature", \.classTemperature, default: 0.12, range: .greaterThan(0),
                   doc: "MoCo encoders' rank loss: the fixed temperature of the class term (moco/loss.py's ranking_temperature, 0.12)"),
            .float("warmup_base_temperature", \.warmupBaseTemperature, default: 0.1, range: .greaterThan(0),
                   doc: "τ_base of the plain SupCon loss — the warm-up's, and the supcon variant's throughout (the reference's SupConLoss default, 0.1: weight τ/τ_base = 1)"),
        ]
    }

    /// What the first stage minimises.
    public enum Objective: Sendable, Equatable {
        /// A contrastive loss on the L2-normalised projections (SupCon warm-up, then `main`).
        case contrastive
        /// Cross-entropy of the encoder's linear classifier against the class labels, on every view.
        case crossEntropy
    }

    /// The losses a `contrastive_loss` stage's settings describe, as the training loops use them.
    public struct Losses: Sendable, Equatable {
        /// Contrastive training or the cross-entropy baseline.
        public var objective: Objective
        /// The loss of the warm-up epochs (plain SupCon).
        public var warmup: ContrastiveLossKind
        /// The loss after the warm-up.
        public var main: ContrastiveLossKind
        /// τ, the temperature class temperatures are scaled from.
        public var temperature: Float
        /// The loss of a MoCo encoder's second half (`rank` or `ccl` on the queue); nil for the
        /// variants that have none (supcon, ce, kcl).
        public var moco: MoCoLossKind?
        /// The `kcl` variant: a MoCo encoder trains with KCL in every epoch.
        public var kclThroughout = false

        /// The losses of the settings.
        public init(_ settings: Settings) {
            let t = Float(settings.temperature), base = Float(settings.baseTemperature), gamma = Float(settings.gamma)
            objective = .contrastive
            moco = nil
            switch settings.variant {
            case .ce:
                objective = .crossEntropy
                main = .supCon(temperature: t, baseTemperature: base)
            case .supcon, .kcl:
                // (kcl: a MoCo encoder's; a CIFAR encoder is refused it at plan time.)
                kclThroughout = settings.variant == .kcl
                // The reference's plain SupConLoss (loss.py) has its own τ_base, 0.1, apart from the
                // SBCL losses' 0.07: the baseline's loss is weighted τ/0.1, not τ/0.07.
                main = .supCon(temperature: t, baseTemperature: Float(settings.warmupBaseTemperature))
            case .ccl:
                main = .sbclCCL(temperature: t, baseTemperature: base, gamma: gamma)
                moco = .ccl(temperature: t, gamma: gamma)
            case .rank:
                main = .sbclRank(temperature: t, baseTemperature: base, gamma: gamma)
                moco = .rank(temperature: t, classTemperature: Float(settings.classTemperature), gamma: gamma)
            }
            warmup = .supCon(temperature: Float(settings.warmupTemperature), baseTemperature: Float(settings.warmupBaseTemperature))
            temperature = t
        }

        /// The losses of a stage's (or input's) resolved parameters.
        public init(_ parameters: ResolvedParameters) { self.init(Settings(parameters)) }

        /// The MoCo loss of the second half, or a run error naming the variant that has none.
        public func mocoLoss(stage: String) throws -> MoCoLossKind {
            guard let moco else {
                throw RunError("stage '\(stage)': a MoCo encoder trains with KCL, then the SBCL loss on the queue; the loss variant must be rank or ccl (or kcl: KCL in every epoch)")
            }
            return moco
        }

        /// Whether the main loss needs subclasses, i.e. whether the stage re-clusters at all.
        public var needsSubclasses: Bool { objective == .contrastive && main.usesSubclasses }
    }
}
