extension Conv2D {
    /// The gradient with respect to the weight, returned in OIHW:
    /// `weightGradient[o, i, kh, kw] (+)= Σ_{n, oh, ow} outputGradient[n, oh, ow, o] · input[n, oh·sh − ph + kh, ow·sw − pw + kw, i]`.
    ///
    /// Each chunk of images sums into its own partial buffer; the partials are then added in chunk
    /// order, so the result is bit-identical for a given thread count.
    ///
    /// - Parameters:
    ///   - input: N × H × W × C_in floats (the forward input).
    ///   - outputGradient: N × OH × OW × C_out floats.
    ///   - weightGradient: C_out × C_in × KH × KW floats.
    ///   - accumulate: add to `weightGradient` when true; overwrite it when false.
    public static func backwardWeight(
        _ geometry: Conv2DGeometry, input: UnsafeBufferPointer<Float>, outputGradient: UnsafeBufferPointer<Float>,
        weightGradient: UnsafeMutableBufferPointer<Float>, accumulate: Bool = false,
        workspace: KernelWorkspace, pool: ThreadPool = .shared
    ) {
        let g = geometry
        g.validate("Conv2D.backwardWeight", input: input.count, output: outputGradient.count,
                   weight: weightGradient.count)
        if usesGEMM(g) && g.batch > 0 {
            return backwardWeightGEMM(g, input.baseAddress!, outputGradient.baseAddress!,
                                      weightGradient.baseAddress!, accumulate: accumulate, pool: pool)
        }
        if kernelSet == .wide && g.batch > 0 {
            return backwardWeightWide(g, input: input.baseAddress!, outputGradient: outputGradient.baseAddress!,
                                      weightGradient: weightGradient.baseAddress!, accumulate: accumulate,
                                      workspace: workspace, pool: pool)
        }
        let cin = g.inputChannels, cout = g.outputChannels
        let taps = g.kernelHeight * g.kernelWidth, kw = g.kernelWidth
        let coPad = roundUp(cout, channelBlock)
        let h = g.inputHeight, w = g.inputWidth, oh = g.outputHeight, ow = g.outputWidth
        let hp = h + 2 * g.paddingHeight, wp = w + 2 * g.paddingWidth
        // An output gradient whose channel count is not a multiple of 8 is copied, padded, per image.
        let copyGradient = cout != coPad
        let paddedFloats = hp * wp * cin, partialFloats = taps * cin * coPad
        let chunks = pool.chunkCount(for: g.batch)
        workspace.prepare(chunks: max(chunks, 1),
                          scratch: paddedFloats + (copyGradient ? oh * ow * coPad : 0),
                          partial: partialFloats)
        let x = input.baseAddress!, dy = outputGradient.baseAddress!
        pool.parallelChunks(count: g.batch) { chunk, images in
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
                    for q in 0..<(oh * ow) {
                        (gradientCopy + q * coPad).update(from: gradient + q * cout, count: cout)
                    }
                    gradient = UnsafePointer(gradientCopy)
                }
                for t in 0..<taps {
                    let tapBase = padded + ((t / kw) * wp + t % kw) * cin
                    for i in stride(from: 0, to: cin, by: 4) {
                        for block in stride(from: 0, to: coPad, by: channelBlock) {
                            weightGradientTile(
                                input: tapBase + i, count: min(4, cin - i),
                                inputRowStep: g.strideHeight * wp * cin, inputPixelStep: g.strideWidth * cin,
                                gradient: gradient + block, gradientStride: copyGradient ? coPad : cout,
                                rows: oh, columns: ow,
                                partial: partial + (t * cin + i) * coPad + block, partialStride: coPad)
                        }
                    }
                }
            }
        }

        sumPartials(workspace, chunks: chunks, outputChannels: cout, inputChannels: cin, taps: taps, stride: coPad,
                    into: weightGradient.baseAddress!, accumulate: accumulate)
    }
}
