import PipelineDSL
import Engine

/// The `contrastive_loss` stage kind: the first-stage loss and its temperatures (SPEC §1), or the
/// cross-entropy baseline that trains the encoder as a plain classifier.
public enum ContrastiveLossStage {
    /// The kind's name in recipes.
    public static let name = "contrastive_loss"

    /// The light kind: its artifact is its resolved parameters.
    public static let kind = StageKind.light(
        name: name, version: 2,
        summary: "the first-stage loss: SBCL (rank or ccl variant), plain SupCon, or cross-entropy (the baseline)",
        parameters: [
            .choice("variant", ["rank", "ccl", "supcon", "ce"], default: "rank",
                    doc: "SBCL with the rank class term (class temperatures, P(i) over N(i)), SBCL with the ccl class term (plain SupCon), supcon alone (a baseline; no re-clustering), or ce: cross-entropy through the encoder's linear layer on both views (the plain baseline; no warm-up, no re-clustering, temperatures unused)"),
            .float("temperature", default: 0.1, range: .greaterThan(0), doc: "τ of the subclass term (and of supcon)"),
            .float("base_temperature", default: 0.07, range: .greaterThan(0), doc: "τ_base of the SBCL losses (rank, ccl): the subclass term is weighted τ/τ_base"),
            .float("gamma", default: 0.25, range: .atLeast(0), doc: "γ, the weight of the class term"),
            .float("warmup_temperature", default: 0.1, range: .greaterThan(0), doc: "τ of the warm-up SupCon loss"),
            .float("class_temperature", default: 0.12, range: .greaterThan(0),
                   doc: "MoCo encoders' rank loss: the fixed temperature of the class term (moco/loss.py's ranking_temperature, 0.12)"),
            .float("warmup_base_temperature", default: 0.1, range: .greaterThan(0),
                   doc: "τ_base of the plain SupCon loss — the warm-up's, and the supcon variant's throughout (the reference's SupConLoss default, 0.1: weight τ/τ_base = 1)"),
        ],
        // Only MoCo encoders read it: at its default it keeps every existing entry's hash.
        inapplicableParameters: { p in p["class_temperature"]?.doubleValue == 0.12 ? ["class_temperature"] : [] })

    /// What the first stage minimises.
    public enum Objective: Sendable, Equatable {
        /// A contrastive loss on the L2-normalised projections (SupCon warm-up, then `main`).
        case contrastive
        /// Cross-entropy of the encoder's linear classifier against the class labels, on every view.
        case crossEntropy
    }

    /// The losses of a `contrastive_loss` input, typed.
    public struct Settings: Sendable, Equatable {
        /// Contrastive training or the cross-entropy baseline.
        public var objective: Objective
        /// The loss of the warm-up epochs (plain SupCon).
        public var warmup: ContrastiveLossKind
        /// The loss after the warm-up.
        public var main: ContrastiveLossKind
        /// τ, the temperature class temperatures are scaled from.
        public var temperature: Float
        /// The loss of a MoCo encoder's second half (`rank` or `ccl` on the queue); nil for the
        /// variants that have none (supcon, ce).
        public var moco: MoCoLossKind?

        /// Settings from explicit losses.
        public init(warmup: ContrastiveLossKind = .supConDefault, main: ContrastiveLossKind = .sbclRankDefault, temperature: Float = 0.1,
                    objective: Objective = .contrastive) {
            self.objective = objective
            self.warmup = warmup
            self.main = main
            self.temperature = temperature
        }

        /// Reads resolved `contrastive_loss` parameters.
        public init(_ parameters: ResolvedParameters) {
            let t = Float(parameters.double("temperature")), base = Float(parameters.double("base_temperature"))
            let gamma = Float(parameters.double("gamma"))
            let main: ContrastiveLossKind
            var objective = Objective.contrastive
            var moco: MoCoLossKind? = nil
            switch parameters.string("variant") {
            case "ce":
                objective = .crossEntropy
                main = .supCon(temperature: t, baseTemperature: base)
            case "supcon":
                // The reference's plain SupConLoss (loss.py) has its own τ_base, 0.1, apart from the
                // SBCL losses' 0.07: the baseline's loss is weighted τ/0.1, not τ/0.07.
                main = .supCon(temperature: t, baseTemperature: Float(parameters.double("warmup_base_temperature")))
            case "ccl":
                main = .sbclCCL(temperature: t, baseTemperature: base, gamma: gamma)
                moco = .ccl(temperature: t, gamma: gamma)
            default:
                main = .sbclRank(temperature: t, baseTemperature: base, gamma: gamma)
                moco = .rank(temperature: t, classTemperature: Float(parameters["class_temperature"]?.doubleValue ?? 0.12), gamma: gamma)
            }
            self.init(warmup: .supCon(temperature: Float(parameters.double("warmup_temperature")),
                                      baseTemperature: Float(parameters.double("warmup_base_temperature"))),
                      main: main, temperature: t, objective: objective)
            self.moco = moco
        }

        /// The MoCo loss of the second half, or a run error naming the variant that has none.
        public func mocoLoss(stage: String) throws -> MoCoLossKind {
            guard let moco else {
                throw RunError("stage '\(stage)': a MoCo encoder trains with KCL, then the SBCL loss on the queue; the loss variant must be rank or ccl")
            }
            return moco
        }

        /// Whether the main loss needs subclasses, i.e. whether the stage re-clusters at all.
        public var needsSubclasses: Bool { objective == .contrastive && main.usesSubclasses }
    }
}
