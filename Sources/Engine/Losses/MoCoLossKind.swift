/// The first-stage losses of the ImageNet-LT code (docs/method.md, "ImageNet-LT"), as the authors' `moco/loss.py`
/// computes them on MoCo logits `[q·k, q·queue]` (B × (1 + K), not yet divided by a temperature).
///
/// Column 0 (the query's own key) is a positive of every term and sits in every denominator.
/// Queue slots labelled −1 (empty, at the start of training) match no query.
public enum MoCoLossKind: Equatable, Sendable {
    /// `KCL`: per query, `draws` uniform draws among the queue entries of its class (duplicates
    /// count once) plus the key are the positives; the loss is the mean over positives of
    /// −log softmax(logits / τ) over all 1 + K columns. The first half of training.
    case kcl(draws: Int, temperature: Float)
    /// `SupConLoss_rank` (SBCL-MoCo): L_sub, the key and the query's subclass as positives over
    /// all columns at τ, plus γ·L_cls at the fixed class temperature τ_c, whose positives are the
    /// key and the class's entries of other subclasses and whose denominator is the key and every
    /// entry not in the query's subclass. The second half of training.
    case rank(temperature: Float, classTemperature: Float, gamma: Float)
    /// `SupConLoss_ccl`: L_sub plus γ times the class term with the key and the query's class as
    /// positives, both over all columns at τ.
    case ccl(temperature: Float, gamma: Float)

    /// main.py's KCL: k = 6, τ = 0.07 (`--moco-t`).
    public static let kclDefault = MoCoLossKind.kcl(draws: 6, temperature: 0.07)
    /// main.py's `SupConLoss_rank(K, temperature=0.07)`: τ_c = 0.12, γ = 0.2.
    public static let rankDefault = MoCoLossKind.rank(temperature: 0.07, classTemperature: 0.12, gamma: 0.2)
    /// `SupConLoss_ccl`'s defaults: τ = 0.07, γ = 0.2.
    public static let cclDefault = MoCoLossKind.ccl(temperature: 0.07, gamma: 0.2)

    /// Whether the loss reads subclass labels (of the batch and of the queue).
    public var usesSubclasses: Bool {
        switch self {
        case .kcl: return false
        case .rank, .ccl: return true
        }
    }

    /// The number of uniforms one evaluation consumes for a batch of `batch` queries: k × B for
    /// KCL (one per query per draw, queries without a positive included), none otherwise.
    public func uniformCount(batch: Int) -> Int {
        switch self {
        case let .kcl(draws, _): return draws * batch
        case .rank, .ccl: return 0
        }
    }
}
