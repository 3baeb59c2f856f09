import Engine

// The first-stage contrastive loss's row pass (KernelSource+ContrastiveLoss), on both GPU backends.

extension KernelLaunching {
    package func contrastiveRows(similarity: TensorStorage, anchors: TensorStorage, n: Int, batch: Int, term: ContrastiveTerm,
                                 scale: Float, accumulate: Bool, rowLoss: TensorStorage, coefficients: TensorStorage) {
        guard n > 0 else { return }
        let width = rowWidth(n)
        let (positives, denominator, temperature) = Self.kernelCodes(term)
        launch("sbcl_contrastive_rows", global: n * width, local: width,
               [.buffer(similarity), .buffer(anchors), .buffer(rowLoss), .buffer(coefficients), .int(n), .int(batch),
                .int(positives), .int(denominator), .float(term.weight), .float(temperature), .float(scale),
                .int(accumulate ? 1 : 0), .local(width * 4)])
    }

    /// The kernel's codes for a term's rules (sbcl_contrastive_positive, sbcl_contrastive_denominator)
    /// and its temperature (0: the anchor's class temperature, read from the anchors).
    private static func kernelCodes(_ term: ContrastiveTerm) -> (positives: Int, denominator: Int, temperature: Float) {
        let positives: Int
        switch term.positives {
        case .sameClass: positives = 0
        case .sameSubclass: positives = 1
        case .otherViewOrSameClassOtherSubclass: positives = 2
        }
        let denominator: Int
        switch term.denominator {
        case .allOthers: denominator = 0
        case .otherViewOrOtherSubclass: denominator = 1
        }
        let temperature: Float
        switch term.temperature {
        case .global(let t): temperature = t
        case .anchorClass: temperature = 0
        }
        return (positives, denominator, temperature)
    }
}
