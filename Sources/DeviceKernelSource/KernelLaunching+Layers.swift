import Engine

// The network layers on both GPU backends (`KernelLaunching`): convolutions through the backend's
// library (cuDNN on CUDA) or lowered to its GEMM around im2col/col2im, batch norm, the option-A
// shortcut, max pooling, L2 normalisation and SGD (kernels in KernelSource+Layers).

extension KernelLaunching {
    /// The geometry as the kernels' ConvGeometry struct.
    private static func words(_ g: Conv2DGeometry) -> [Int32] {
        [g.batch, g.inputHeight, g.inputWidth, g.inputChannels, g.outputChannels, g.kernelHeight, g.kernelWidth,
         g.strideHeight, g.strideWidth, g.paddingHeight, g.paddingWidth, g.outputHeight, g.outputWidth].map { Int32($0) }
    }

    /// Rows (output pixels) and columns (taps × input channels) of the lowered input.
    private static func lowered(_ g: Conv2DGeometry) -> (rows: Int, cols: Int) {
        (g.batch * g.outputHeight * g.outputWidth, g.inputChannels * g.kernelHeight * g.kernelWidth)
    }

    private func im2col(_ g: Conv2DGeometry, _ input: TensorStorage) -> TensorStorage {
        let (rows, cols) = Self.lowered(g)
        let col = allocate(byteCount: rows * cols * 4)
        let items = rows * g.inputChannels
        launchElementwise("sbcl_im2col", count: items,
                          [.buffer(input), .buffer(col), .int(items), .bytes(Self.words(g))])
        return col
    }

    package func conv2dForward(_ g: Conv2DGeometry, input: TensorStorage, weight: TensorStorage, into output: TensorStorage) {
        if libraryConvolution(.forward, g, input: input, weight: weight, output: output) { return }
        let (rows, cols) = Self.lowered(g)
        let col = im2col(g, input)
        // output [rows, Cout] = col [rows, K] · Wᵀ (W is [Cout, K] in OIHW order, K = ci·k² + ky·k + kx).
        convolutionGEMM(transposeA: false, transposeB: true, m: rows, n: g.outputChannels, k: cols,
                        a: col, lda: cols, b: weight, ldb: cols, c: output, ldc: g.outputChannels)
    }

    package func conv2dBackwardData(_ g: Conv2DGeometry, outputGradient: TensorStorage, weight: TensorStorage,
                                   into inputGradient: TensorStorage) {
        if libraryConvolution(.backwardData, g, input: inputGradient, weight: weight, output: outputGradient) { return }
        let (rows, cols) = Self.lowered(g)
        let col = allocate(byteCount: rows * cols * 4)
        // dcol [rows, K] = dY [rows, Cout] · W [Cout, K], then gathered back onto the input.
        convolutionGEMM(transposeA: false, transposeB: false, m: rows, n: cols, k: g.outputChannels,
                        a: outputGradient, lda: g.outputChannels, b: weight, ldb: cols, c: col, ldc: cols)
        let total = g.batch * g.inputHeight * g.inputWidth * g.inputChannels
        launchElementwise("sbcl_col2im", count: total,
                          [.buffer(col), .buffer(inputGradient), .int(total), .bytes(Self.words(g))])
    }

    package func conv2dBackwardWeight(_ g: Conv2DGeometry, input: TensorStorage, outputGradient: TensorStorage,
                                     into weightGradient: TensorStorage) {
        if libraryConvolution(.backwardFilter, g, input: input, weight: weightGradient, output: outputGradient) { return }
        let (rows, cols) = Self.lowered(g)
        let col = im2col(g, input)
        // dW [Cout, K] = dYᵀ [Cout, rows] · col [rows, K].
        convolutionGEMM(transposeA: true, transposeB: false, m: g.outputChannels, n: cols, k: rows,
                        a: outputGradient, lda: g.outputChannels, b: col, ldb: cols, c: weightGradient, ldc: cols)
    }

    package func batchNormStatistics(_ input: TensorStorage, rows: Int, channels: Int, runningMean: TensorStorage,
                                    runningVariance: TensorStorage, momentum: Float, epsilon: Float,
                                    savedMean: TensorStorage, savedInverseStd: TensorStorage) {
        // The mean (mode 0), then the variance around it (mode 1): two sums, each in two launches.
        for mode in 0...1 {
            batchNormSums(mode: mode, input: input, outputGradient: input, rows: rows, channels: channels, mean: savedMean,
                          inverseStd: savedInverseStd, gamma: savedMean, beta: savedMean, relu: false,
                          runningMean: runningMean, runningVariance: runningVariance, momentum: momentum, epsilon: epsilon,
                          gammaGradient: savedMean, betaGradient: savedMean)
        }
    }

    /// One of batch norm's per-channel sums (`sbcl_bn_partial_sums` over slices of rows, then
    /// `sbcl_bn_finish`; modes in KernelSource+Layers), with every buffer either kernel may take.
    private func batchNormSums(mode: Int, input: TensorStorage, outputGradient: TensorStorage, rows: Int, channels: Int,
                               mean: TensorStorage, inverseStd: TensorStorage, gamma: TensorStorage, beta: TensorStorage,
                               relu: Bool, runningMean: TensorStorage, runningVariance: TensorStorage, momentum: Float,
                               epsilon: Float, gammaGradient: TensorStorage, betaGradient: TensorStorage) {
        guard rows > 0, channels > 0 else { return }
        let split = BatchNormSlices(rows: rows, channels: channels, width: rowWidth(rows * channels))
        let partials = allocate(byteCount: split.partialCount(channels: channels) * 4)
        launch("sbcl_bn_partial_sums", global: split.slices * split.width, local: split.width,
               [.buffer(input), .buffer(outputGradient), .int(rows), .int(channels), .int(split.rowsPerSlice), .int(mode),
                .buffer(mean), .buffer(inverseStd), .buffer(gamma), .buffer(beta), .int(relu ? 1 : 0), .buffer(partials),
                .local(split.localBytes)])
        let finish = rowWidth(Swift.min(split.slices, 64))
        launch("sbcl_bn_finish", global: channels * finish, local: finish,
               [.buffer(partials), .int(split.slices), .int(channels), .int(rows), .int(mode), .buffer(runningMean),
                .buffer(runningVariance), .float(momentum), .float(epsilon), .buffer(mean), .buffer(inverseStd),
                .buffer(gammaGradient), .buffer(betaGradient), .local(finish * 2 * 4)])
    }

    package func batchNormNormalize(_ input: TensorStorage, rows: Int, channels: Int, mean: TensorStorage, inverseStd: TensorStorage,
                                   gamma: TensorStorage, beta: TensorStorage, relu: Bool, into output: TensorStorage) {
        let total = rows * channels
        launchElementwise("sbcl_bn_normalize", count: total,
                          [.buffer(input), .int(total), .int(channels), .buffer(mean), .buffer(inverseStd), .buffer(gamma),
                          .buffer(beta), .int(relu ? 1 : 0), .buffer(output)])
    }

    package func batchNormBackward(training: Bool, input: TensorStorage, outputGradient: TensorStorage, rows: Int, channels: Int,
                                  mean: TensorStorage, inverseStd: TensorStorage, gamma: TensorStorage, beta: TensorStorage,
                                  relu: Bool, inputGradient: TensorStorage, gammaGradient: TensorStorage,
                                  betaGradient: TensorStorage) {
        batchNormSums(mode: 2, input: input, outputGradient: outputGradient, rows: rows, channels: channels, mean: mean,
                      inverseStd: inverseStd, gamma: gamma, beta: beta, relu: relu, runningMean: mean, runningVariance: mean,
                      momentum: 0, epsilon: 0, gammaGradient: gammaGradient, betaGradient: betaGradient)
        let total = rows * channels
        launchElementwise("sbcl_bn_backward_input", count: total,
                          [.buffer(input), .buffer(outputGradient), .int(total), .int(channels), .int(rows), .buffer(mean),
                          .buffer(inverseStd), .buffer(gamma), .buffer(beta), .int(relu ? 1 : 0), .int(training ? 1 : 0),
                          .buffer(gammaGradient), .buffer(betaGradient), .buffer(inputGradient)])
    }

    package func shortcutA(_ input: TensorStorage, batch: Int, height: Int, width: Int, channels: Int, padding: Int,
                          into output: TensorStorage) {
        let total = batch * ((height + 1) / 2) * ((width + 1) / 2) * (channels + 2 * padding)
        launchElementwise("sbcl_shortcut_forward", count: total,
                          [.buffer(input), .buffer(output), .int(total), .int(height), .int(width), .int(channels), .int(padding)])
    }

    package func shortcutABackward(_ outputGradient: TensorStorage, batch: Int, height: Int, width: Int, channels: Int,
                                  padding: Int, into inputGradient: TensorStorage) {
        let total = batch * height * width * channels
        launchElementwise("sbcl_shortcut_backward", count: total,
                          [.buffer(outputGradient), .buffer(inputGradient), .int(total), .int(height), .int(width), .int(channels),
                          .int(padding)])
    }

    package func maxPool2d(_ geometry: MaxPool2DGeometry, input: TensorStorage, into output: TensorStorage, indices: TensorStorage) {
        let g = geometry, total = g.outputCount
        launchElementwise("sbcl_maxpool_forward", count: total,
                          [.buffer(input), .buffer(output), .buffer(indices), .int(total), .int(g.height), .int(g.width), .int(g.channels),
                          .int(g.outputHeight), .int(g.outputWidth), .int(g.kernelSize), .int(g.stride), .int(g.padding)])
    }

    package func maxPool2dBackward(_ geometry: MaxPool2DGeometry, outputGradient: TensorStorage, indices: TensorStorage,
                                  into inputGradient: TensorStorage) {
        let g = geometry, total = g.inputCount
        launchElementwise("sbcl_maxpool_backward", count: total,
                          [.buffer(outputGradient), .buffer(indices), .buffer(inputGradient), .int(total), .int(g.height), .int(g.width),
                          .int(g.channels), .int(g.outputHeight), .int(g.outputWidth), .int(g.kernelSize), .int(g.stride), .int(g.padding)])
    }

    package func l2Normalize(_ input: TensorStorage, rows: Int, cols: Int, epsilon: Float, into output: TensorStorage,
                            norms: TensorStorage) {
        let width = rowWidth(cols)
        launch("sbcl_l2_forward", global: rows * width, local: width,
               [.buffer(input), .buffer(output), .buffer(norms), .int(cols), .float(epsilon), .local(width * 4)])
    }

    package func l2NormalizeBackward(_ outputGradient: TensorStorage, output: TensorStorage, norms: TensorStorage, rows: Int,
                                    cols: Int, epsilon: Float, into inputGradient: TensorStorage) {
        let width = rowWidth(cols)
        launch("sbcl_l2_backward", global: rows * width, local: width,
               [.buffer(outputGradient), .buffer(output), .buffer(norms), .buffer(inputGradient), .int(cols),
                .float(epsilon), .local(width * 4)])
    }

    package func sgdStep(parameter: TensorStorage, gradient: TensorStorage, buffer: TensorStorage, count: Int, learningRate: Float,
                        momentum: Float, weightDecay: Float, dampening: Float, nesterov: Bool, firstStep: Bool) {
        launchElementwise("sbcl_sgd", count: count,
                          [.buffer(parameter), .buffer(gradient), .buffer(buffer), .int(count), .float(learningRate), .float(momentum),
                          .float(weightDecay), .float(dampening), .int(nesterov ? 1 : 0), .int(firstStep ? 1 : 0)])
    }
}
