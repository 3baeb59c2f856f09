import Engine

// Row-wise and layout kernels (KernelSource+Rows): softmax, cross-entropy, max, block copies.

extension CUDABackend {
    /// A power-of-two work-group width for a row reduction over `count` values (at most 256).
    func rowWidth(_ count: Int) -> Int {
        var width = 1
        while width < Swift.min(count, 256, cudaDevice.maximumThreadsPerBlock) { width *= 2 }
        return width > cudaDevice.maximumThreadsPerBlock ? width / 2 : width
    }

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
        launch("sbcl_cross_entropy_terms", global: Self.groups(rows, of: Self.elementwiseGroup), local: Self.elementwiseGroup,
               [.buffer(logProbabilities), .buffer(labels), .buffer(coefficients), .buffer(terms), .int(rows), .int(cols)])
    }

    package func crossEntropyBackward(_ logProbabilities: TensorStorage, labels: TensorStorage, coefficients: TensorStorage,
                                     upstream: TensorStorage, rows: Int, cols: Int, into inputGradient: TensorStorage) {
        let total = rows * cols
        launch("sbcl_cross_entropy_backward", global: Self.groups(total, of: Self.elementwiseGroup), local: Self.elementwiseGroup,
               [.buffer(logProbabilities), .buffer(labels), .buffer(coefficients), .buffer(upstream), .buffer(inputGradient),
                .int(total), .int(cols)])
    }

    package func max(_ input: TensorStorage, outer: Int, size: Int, inner: Int, into output: TensorStorage, indices: TensorStorage) {
        launch("sbcl_max_axis", global: Self.groups(outer * inner, of: Self.elementwiseGroup), local: Self.elementwiseGroup,
               [.buffer(input), .buffer(output), .buffer(indices), .int(outer), .int(size), .int(inner)])
    }

    package func maxBackward(_ outputGradient: TensorStorage, indices: TensorStorage, outer: Int, size: Int, inner: Int,
                            into inputGradient: TensorStorage) {
        let total = outer * size * inner
        launch("sbcl_max_axis_backward", global: Self.groups(total, of: Self.elementwiseGroup), local: Self.elementwiseGroup,
               [.buffer(outputGradient), .buffer(indices), .buffer(inputGradient), .int(total), .int(size), .int(inner)])
    }

    package func copyBlocks(_ source: TensorStorage, sourceAxis: Int, sourceStart: Int, into destination: TensorStorage,
                           destinationAxis: Int, destinationStart: Int, outer: Int, count: Int, inner: Int) {
        let total = outer * count * inner
        launch("sbcl_copy_blocks", global: Self.groups(total, of: Self.elementwiseGroup), local: Self.elementwiseGroup,
               [.buffer(source), .buffer(destination), .int(total), .int(count), .int(inner), .int(sourceAxis),
                .int(sourceStart), .int(destinationAxis), .int(destinationStart)])
    }
}
