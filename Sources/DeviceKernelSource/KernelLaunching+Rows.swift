import Engine

// Row-wise and layout kernels (KernelSource+Rows) on both GPU backends (`KernelLaunching`):
// softmax, cross-entropy, the maximum along an axis, block copies.

extension KernelLaunching {
    package func softmax(_ input: TensorStorage, rows: Int, cols: Int, logarithmic: Bool, into output: TensorStorage) {
        guard cols > 0 else { return }
        let width = rowWidth(cols)
        launch("sbcl_softmax", global: rows * width, local: width,
               [.buffer(input), .buffer(output), .int(cols), .int(logarithmic ? 1 : 0), .local(width * 4)])
    }

    package func softmaxBackward(_ outputGradient: TensorStorage, output: TensorStorage, rows: Int, cols: Int, logarithmic: Bool,
                                into inputGradient: TensorStorage) {
        guard cols > 0 else { return }
        let width = rowWidth(cols)
        launch("sbcl_softmax_backward", global: rows * width, local: width,
               [.buffer(outputGradient), .buffer(output), .buffer(inputGradient), .int(cols), .int(logarithmic ? 1 : 0),
                .local(width * 4)])
    }

    package func crossEntropyTerms(_ logProbabilities: TensorStorage, labels: TensorStorage, coefficients: TensorStorage, rows: Int,
                                  cols: Int, into terms: TensorStorage) {
        launchElementwise("sbcl_cross_entropy_terms", count: rows,
                          [.buffer(logProbabilities), .buffer(labels), .buffer(coefficients), .buffer(terms), .int(rows), .int(cols)])
    }

    package func crossEntropyBackward(_ logProbabilities: TensorStorage, labels: TensorStorage, coefficients: TensorStorage,
                                     upstream: TensorStorage, rows: Int, cols: Int, into inputGradient: TensorStorage) {
        let total = rows * cols
        launchElementwise("sbcl_cross_entropy_backward", count: total,
                          [.buffer(logProbabilities), .buffer(labels), .buffer(coefficients), .buffer(upstream), .buffer(inputGradient),
                          .int(total), .int(cols)])
    }

    package func max(_ input: TensorStorage, outer: Int, size: Int, inner: Int, into output: TensorStorage, indices: TensorStorage) {
        launchElementwise("sbcl_max_axis", count: outer * inner,
                          [.buffer(input), .buffer(output), .buffer(indices), .int(outer), .int(size), .int(inner)])
    }

    package func maxBackward(_ outputGradient: TensorStorage, indices: TensorStorage, outer: Int, size: Int, inner: Int,
                            into inputGradient: TensorStorage) {
        let total = outer * size * inner
        launchElementwise("sbcl_max_axis_backward", count: total,
                          [.buffer(outputGradient), .buffer(indices), .buffer(inputGradient), .int(total), .int(size), .int(inner)])
    }

    package func copyBlocks(_ source: TensorStorage, sourceAxis: Int, sourceStart: Int, into destination: TensorStorage,
                           destinationAxis: Int, destinationStart: Int, outer: Int, count: Int, inner: Int) {
        let total = outer * count * inner
        launchElementwise("sbcl_copy_blocks", count: total,
                          [.buffer(source), .buffer(destination), .int(total), .int(count), .int(inner), .int(sourceAxis),
                          .int(sourceStart), .int(destinationAxis), .int(destinationStart)])
    }
}
