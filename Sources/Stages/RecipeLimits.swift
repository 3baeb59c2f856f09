import PipelineDSL

/// Upper bounds of the recipe's counts and sizes: far above any real setting, low enough that
/// the memory estimate and the tensor shapes built from them stay far from integer overflow.
/// A value past one is a recipe error naming the key and the range, never an overflow trap.
public enum RecipeLimits {
    /// A view or image side in pixels.
    public static let side = 16_384
    /// Images in one batch.
    public static let batch = 1 << 20
    /// Epochs of a training stage.
    public static let epochs = 1_000_000
    /// Keys in a MoCo queue.
    public static let queue = 1 << 24
    /// The width of a projection head's output.
    public static let projection = 1 << 16
    /// Images kept per class by a limit.
    public static let perClass = 1 << 30

    /// `0 ... limit`.
    static func upTo(_ limit: Int, from lower: Int = 0) -> PipelineDSL.NumericRange { .closed(Double(lower), Double(limit)) }
}
