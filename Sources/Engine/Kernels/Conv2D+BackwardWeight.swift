extension Conv2D {
    /// The gradient with respect to the weight, returned in OIHW:
    /// `weightGradient[o, i, kh, kw] (+)= Σ_{n, oh, ow} outputGradient[n, oh, ow, o] · input[n, oh·sh − ph + kh, ow·sw − pw + kw, i]`.
    ///
    /// Each chunk of images (`ThreadPool.reductionChunkCount`'s fixed chunks) sums into its own
    /// partial buffer; the partials are then added in chunk order, so the result has the same bits
    /// on any number of threads.
    ///
    /// - Parameters:
    ///   - input: N × H × W × C_in floats (the forward input).
    ///   - outputGradient: N × OH × OW × C_out floats.
    ///   - weightGradient: C_out × C_in × KH × KW floats.
    ///   - accumulate: add to `weightGradient` when true; overwrite it when false.
    public static func backwardWeight(
        _ geometry: Conv2DGeometry, input: UnsafeBufferPointer<Float>, outputGradient: UnsafeBufferPointer<Float>,
        weightGradient: UnsafeMutableBufferPointer<Float>, accumulate: Bool = false,
        kernels: ConvKernels = CPUBackend.shared.convKernels, workspace: KernelWorkspace, pool: ThreadPool = .shared
    ) {
        let g = geometry
        g.validate("Conv2D.backwardWeight", input: input.count, output: outputGradient.count,
                   weight: weightGradient.count)
        if usesGEMM(g) && g.batch > 0 {
            return backwardWeightGEMM(g, input.baseAddress!, outputGradient.baseAddress!,
                                      weightGradient.baseAddress!, accumulate: accumulate, pool: pool)
        }
        if usesWinograd(g, kernels: kernels) && g.batch > 0 {
            return backwardWeightWinograd(g, input: input.baseAddress!, outputGradient: outputGradient.baseAddress!,
                                          weightGradient: weightGradient.baseAddress!, accumulate: accumulate,
                                          set: kernels.set, workspace: workspace, pool: pool)
        }
        let tiles = kernels.set == .portable ? nil : WideTiles(kernels.set)
        accumulateWeightGradient(g, input: input.baseAddress!, outputGradient: outputGradient.baseAddress!,
                                 weightGradient: weightGradient.baseAddress!, accumulate: accumulate,
                                 channelMultiple: tiles?.width ?? channelBlock, workspace: workspace, pool: pool) { image in
            if let tiles { wideWeightTiles(g, image, tiles: tiles) } else { portableWeightTiles(g, image) }
        }
    }

    /// One image's share of the weight gradient: its zero-padded input (channel stride C_in), its
    /// output gradient (rows `gradientStride` apart, C_out padded to `paddedOutputs` when needed)
    /// and the chunk's partial sums `[kh][kw][i][o]` (rows `paddedOutputs` apart).
    struct WeightGradientImage {
        var padded: UnsafePointer<Float>, paddedColumns: Int
        var gradient: UnsafePointer<Float>, gradientStride: Int
        var partial: UnsafeMutablePointer<Float>, paddedOutputs: Int
    }

    /// The scaffolding shared by both tile sets: per chunk of images a partial sum, each image
    /// padded (and its gradient copied to a padded channel count when C_out is not a multiple of
    /// `channelMultiple`), `tiles` adding the image into the partial; then `sumPartials`.
    static func accumulateWeightGradient(
        _ g: Conv2DGeometry, input x: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
        weightGradient: UnsafeMutablePointer<Float>, accumulate: Bool, channelMultiple: Int,
        workspace: KernelWorkspace, pool: ThreadPool, tiles: (WeightGradientImage) -> Void
    ) {
        let cin = g.inputChannels, cout = g.outputChannels
        let taps = g.kernelHeight * g.kernelWidth
        let coPad = roundUp(cout, channelMultiple)
        let h = g.inputHeight, w = g.inputWidth, oh = g.outputHeight, ow = g.outputWidth
        let hp = h + 2 * g.paddingHeight, wp = w + 2 * g.paddingWidth
        let copyGradient = cout != coPad
        let paddedFloats = hp * wp * cin, partialFloats = taps * cin * coPad
        let chunks = ThreadPool.reductionChunkCount(for: g.batch)
        workspace.prepare(chunks: max(chunks, 1), scratch: paddedFloats + (copyGradient ? oh * ow * coPad : 0),
                          partial: partialFloats)
        pool.parallelReductionChunks(count: g.batch) { chunk, images in
            let padded = workspace.scratch(chunk), partial = workspace.partial(chunk)
            let gradientCopy = padded + paddedFloats
            padded.initialize(repeating: 0, count: paddedFloats)
            partial.initialize(repeating: 0, count: partialFloats)
            if copyGradient { gradientCopy.initialize(repeating: 0, count: oh * ow * coPad) }
            for n in images {
                copyPadded(x + n * h * w * cin, rows: h, columns: w, channels: cin, into: padded, channelStride: cin,
                           top: g.paddingHeight, left: g.paddingWidth, paddedColumns: wp)
                var gradient = dy + n * oh * ow * cout
                if copyGradient {
                    for q in 0..<(oh * ow) { (gradientCopy + q * coPad).update(from: gradient + q * cout, count: cout) }
                    gradient = UnsafePointer(gradientCopy)
                }
                tiles(WeightGradientImage(padded: padded, paddedColumns: wp, gradient: gradient,
                                          gradientStride: copyGradient ? coPad : cout, partial: partial, paddedOutputs: coPad))
            }
        }
        sumPartials(workspace, chunks: chunks, outputChannels: cout, inputChannels: cin, taps: taps, stride: coPad,
                    into: weightGradient, accumulate: accumulate, pool: pool)
    }

    /// The portable tiles (4 input channels × 8 output channels) over a whole image.
    static func portableWeightTiles(_ g: Conv2DGeometry, _ image: WeightGradientImage) {
        let cin = g.inputChannels, kw = g.kernelWidth, wp = image.paddedColumns, coPad = image.paddedOutputs
        for t in 0..<(g.kernelHeight * kw) {
            let tapBase = image.padded + ((t / kw) * wp + t % kw) * cin
            for i in stride(from: 0, to: cin, by: 4) {
                for block in stride(from: 0, to: coPad, by: channelBlock) {
                    weightGradientTile(
                        input: tapBase + i, count: min(4, cin - i),
                        inputRowStep: g.strideHeight * wp * cin, inputPixelStep: g.strideWidth * cin,
                        gradient: image.gradient + block, gradientStride: image.gradientStride,
                        rows: g.outputHeight, columns: g.outputWidth,
                        partial: image.partial + (t * cin + i) * coPad + block, partialStride: coPad)
                }
            }
        }
    }
}
