extension Conv2D {
    /// The gradient with respect to the input: the adjoint of `forward` in its input,
    /// `inputGradient[n, h, w, i] = Σ outputGradient[n, oh, ow, o] · weight[o, i, kh, kw]` over
    /// `oh·sh − ph + kh = h`, `ow·sw − pw + kw = w`.
    ///
    /// Input pixels are grouped by their phase `(h mod sh, w mod sw)`: within a phase the same taps
    /// apply to every pixel, so each phase is a stride-1 correlation of the zero-padded output
    /// gradient, run with the same register tiles as `forward`.
    ///
    /// - Parameters:
    ///   - outputGradient: N × OH × OW × C_out floats.
    ///   - weight: C_out × C_in × KH × KW floats.
    ///   - inputGradient: N × H × W × C_in floats, overwritten.
    public static func backwardData(
        _ geometry: Conv2DGeometry, outputGradient: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>,
        inputGradient: UnsafeMutableBufferPointer<Float>, kernels: ConvKernels = CPUBackend.shared.convKernels,
        workspace: KernelWorkspace, pool: ThreadPool = .shared
    ) {
        let g = geometry
        g.validate("Conv2D.backwardData", input: inputGradient.count, output: outputGradient.count,
                   weight: weight.count)
        guard g.batch > 0 else { return }
        if usesGEMM(g) {
            return backwardDataGEMM(g, outputGradient.baseAddress!, weight.baseAddress!,
                                    inputGradient.baseAddress!, pool: pool)
        }
        if usesWinograd(g, kernels: kernels) {
            return backwardDataWinograd(g, outputGradient: outputGradient.baseAddress!, weight: weight.baseAddress!,
                                        inputGradient: inputGradient.baseAddress!, set: kernels.set, workspace: workspace, pool: pool)
        }
        if kernels.set != .portable {
            return backwardDataWide(g, outputGradient: outputGradient.baseAddress!, weight: weight.baseAddress!,
                                    inputGradient: inputGradient.baseAddress!, set: kernels.set, workspace: workspace, pool: pool)
        }
        let cin = g.inputChannels, cout = g.outputChannels
        let kh = g.kernelHeight, kw = g.kernelWidth
        let sh = g.strideHeight, sw = g.strideWidth, ph = g.paddingHeight, pw = g.paddingWidth
        let h = g.inputHeight, w = g.inputWidth, oh = g.outputHeight, ow = g.outputWidth
        let coPad = roundUp(cout, dotChannels)

        // Input column w = rw + sw·b takes output column b + dw from kernel column k when
        // rw + pw − k = sw·dw. Within a phase rw those k step by sw and their dw by 1, so with k in
        // descending order the output-gradient columns are contiguous: one run per kernel row.
        // Packed weight: for each phase rw, [kh][i][k in phase, descending][o], o padded to 4.
        let packed = workspace.packed.reserve(kh * cin * kw * coPad)
        let wt = weight.baseAddress!
        var phaseBase = 0
        for rw in 0..<min(sw, w) {
            var kernelColumns = 0
            for k in 0..<kw where (rw + pw - k) % sw == 0 { kernelColumns += 1 }
            let length = kernelColumns * coPad
            for a in 0..<kh {
                for i in 0..<cin {
                    let row = packed + phaseBase + (a * cin + i) * length
                    var m = 0
                    for k in stride(from: kw - 1, through: 0, by: -1) where (rw + pw - k) % sw == 0 {
                        for o in 0..<coPad { row[m * coPad + o] = o < cout ? wt[((o * cin + i) * kh + a) * kw + k] : 0 }
                        m += 1
                    }
                }
            }
            phaseBase += kh * cin * length
        }

        let (top, bottom) = outputGradientPadding(size: h, outSize: oh, stride: sh, pad: ph, kernel: kh)
        let (left, right) = outputGradientPadding(size: w, outSize: ow, stride: sw, pad: pw, kernel: kw)
        let hp = oh + top + bottom, wp = ow + left + right

        let chunks = pool.chunkCount(for: g.batch)
        workspace.prepare(chunks: chunks, scratch: hp * wp * coPad, offsets: 2 * kh)
        let dy = outputGradient.baseAddress!, dx = inputGradient.baseAddress!
        pool.parallelChunks(count: g.batch) { chunk, images in
            let padded = workspace.scratch(chunk)
            let tapInput = workspace.offsets(chunk), tapWeight = tapInput + kh
            padded.initialize(repeating: 0, count: hp * wp * coPad)
            for n in images {
                copyPadded(dy + n * oh * ow * cout, rows: oh, columns: ow, channels: cout, into: padded,
                           channelStride: coPad, top: top, left: left, paddedColumns: wp)
                let image = dx + n * h * w * cin
                var phaseBase = 0
                for rw in 0..<min(sw, w) {
                    // The phase's kernel columns, largest first: the first has the smallest dw.
                    var kernelColumns = 0, firstColumn = -1
                    for k in stride(from: kw - 1, through: 0, by: -1) where (rw + pw - k) % sw == 0 {
                        if firstColumn < 0 { firstColumn = k }
                        kernelColumns += 1
                    }
                    let length = kernelColumns * coPad
                    defer { phaseBase += kh * cin * length }
                    for rh in 0..<min(sh, h) {
                        var taps = 0
                        for a in 0..<kh where kernelColumns > 0 && (rh + ph - a) % sh == 0 {
                            let dh = (rh + ph - a) / sh, dw = (rw + pw - firstColumn) / sw
                            tapInput[taps] = (dh * wp + dw) * coPad
                            tapWeight[taps] = a * cin * length
                            taps += 1
                        }
                        let rows = (h - rh + sh - 1) / sh, columns = (w - rw + sw - 1) / sw
                        runTiles(pixels: rows * columns, outputChannels: cin, taps: taps,
                                 tapInput: tapInput, tapWeight: tapWeight, length: length,
                                 weight: packed + phaseBase, rowStride: length) { q in
                            let r = q / columns, c = q % columns
                            return (UnsafePointer(padded + ((r + top) * wp + c + left) * coPad),
                                    image + ((rh + sh * r) * w + rw + sw * c) * cin)
                        }
                    }
                }
            }
        }
    }

    /// The zero border the output gradient needs along one axis for `backwardData`: input index
    /// `r + s·a` (phase `r`) takes output index `a + d` from tap `k` when `r + p − k = s·d`, so
    /// the buffer needs `max(−d)` entries before and `max(count_r − 1 + d − (outSize − 1))` after.
    static func outputGradientPadding(size: Int, outSize: Int, stride s: Int, pad p: Int, kernel: Int) -> (before: Int, after: Int) {
        var before = 0, after = 0
        for r in 0..<min(s, size) {
            let count = (size - r + s - 1) / s
            for k in 0..<kernel where (r + p - k) % s == 0 {
                let d = (r + p - k) / s
                before = max(before, -d)
                after = max(after, count - 1 + d - (outSize - 1))
            }
        }
        return (before, after)
    }
}
