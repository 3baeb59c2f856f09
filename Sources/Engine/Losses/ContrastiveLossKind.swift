/// The contrastive losses of the first stage (docs/method.md), as the authors' `SimCLR/loss.py` computes
/// them for 2B anchors (two views of B images).
public enum ContrastiveLossKind: Equatable, Sendable {
    /// Plain supervised contrastive loss (`SupConLoss`): positives are the other anchors of the
    /// anchor's class, the denominator all other anchors, scaled by τ/τ_base. The warm-up loss.
    case supCon(temperature: Float, baseTemperature: Float)
    /// SBCL's bi-granularity loss (`SupConLoss_rank`, the default): (τ/τ_base)·L_sub with subclass
    /// positives over all other anchors at τ, plus γ·L_cls with class positives P(i) over N(i) at
    /// the anchor's class temperature τ_{y_i}.
    case sbclRank(temperature: Float, baseTemperature: Float, gamma: Float)
    /// The `ccl` variant (`SupConLoss_ccl`): (τ/τ_base)·L_sub plus γ times the plain SupCon class
    /// term (class positives, every other anchor in the denominator, temperature τ).
    case sbclCCL(temperature: Float, baseTemperature: Float, gamma: Float)

    /// Whether the loss reads subclass labels.
    public var usesSubclasses: Bool {
        switch self {
        case .supCon: return false
        case .sbclRank, .sbclCCL: return true
        }
    }

    /// Whether the loss reads per-class temperatures.
    public var usesClassTemperatures: Bool {
        switch self {
        case .sbclRank: return true
        case .supCon, .sbclCCL: return false
        }
    }

    /// The terms summed per anchor: each a softmax cross-entropy over a set of anchors.
    public var terms: [ContrastiveTerm] {
        switch self {
        case let .supCon(t, base):
            return [ContrastiveTerm(weight: t / base, temperature: .global(t), positives: .sameClass, denominator: .allOthers)]
        case let .sbclRank(t, base, gamma):
            return [ContrastiveTerm(weight: t / base, temperature: .global(t), positives: .sameSubclass, denominator: .allOthers),
                    ContrastiveTerm(weight: gamma, temperature: .anchorClass, positives: .otherViewOrSameClassOtherSubclass,
                                    denominator: .otherViewOrOtherSubclass)]
        case let .sbclCCL(t, base, gamma):
            return [ContrastiveTerm(weight: t / base, temperature: .global(t), positives: .sameSubclass, denominator: .allOthers),
                    ContrastiveTerm(weight: gamma, temperature: .global(t), positives: .sameClass, denominator: .allOthers)]
        }
    }
}

/// One term −w · mean_{p∈P(i)} [ s_ip/t − log Σ_{a∈D(i)} exp(s_ia/t) ] of an anchor's loss.
public struct ContrastiveTerm: Equatable, Sendable {
    /// The term's temperature t.
    public enum Temperature: Equatable, Sendable {
        /// One t for every anchor.
        case global(Float)
        /// τ_{y_i}: the anchor's class temperature.
        case anchorClass
    }

    /// Which anchors j are positives P(i) of anchor i (never i itself).
    public enum Positives: Equatable, Sendable {
        /// y_j = y_i.
        case sameClass
        /// sub(j) = sub(i): S(i).
        case sameSubclass
        /// j = v(i), or y_j = y_i with sub(j) ≠ sub(i): the rank loss's P(i).
        case otherViewOrSameClassOtherSubclass
    }

    /// Which anchors form the softmax denominator D(i).
    public enum Denominator: Equatable, Sendable {
        /// A(i): every anchor but i.
        case allOthers
        /// N(i): v(i) and every anchor of another subclass.
        case otherViewOrOtherSubclass
    }

    /// w, the term's factor in the anchor's loss.
    public var weight: Float
    /// t.
    public var temperature: Temperature
    /// P(i).
    public var positives: Positives
    /// D(i).
    public var denominator: Denominator
}

extension ContrastiveLossKind {
    /// The temperature of an anchor of class `label`: its class's τ_c when the loss reads class
    /// temperatures (checked: present and positive), else 1 (unused). The host loss and the
    /// device loss's anchors both take it from here.
    func anchorTemperature(label: Int32, classTemperatures: [Float]) -> Float {
        guard usesClassTemperatures else { return 1 }
        let c = Int(label)
        precondition(c >= 0 && c < classTemperatures.count,
                     "ContrastiveLoss(\(self)): label \(c) has no class temperature (\(classTemperatures.count) given)")
        let t = classTemperatures[c]
        precondition(t > 0, "ContrastiveLoss(\(self)): class temperature \(t) of class \(c) is not positive")
        return t
    }
}
