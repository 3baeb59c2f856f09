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
        inputGradient: UnsafeMutableBufferPointer<Float>, workspace: KernelWorkspace, pool: ThreadPool = .shared
    ) {
        let g = geometry
        g.validate("Conv2D.backwardData", input: inputGradient.count, output: outputGradient.count,
                   weight: weight.count)
        guard g.batch > 0 else { return }
        let cin = g.inputChannels, cout = g.outputChannels
        let kh = g.kernelHeight, kw = g.kernelWidth, taps = kh * kw
        let sh = g.strideHeight, sw = g.strideWidth, ph = g.paddingHeight, pw = g.paddingWidth
        let h = g.inputHeight, w = g.inputWidth, oh = g.outputHeight, ow = g.outputWidth
        let ciPad = roundUp(cin, channelBlock)

        // Packed weight: [kh][kw][o][i], i padded with zeros to a multiple of 8.
        let packed = workspace.packed.reserve(taps * cout * ciPad)
        let wt = weight.baseAddress!
        for t in 0..<taps {
            for o in 0..<cout {
                let row = packed + (t * cout + o) * ciPad
                for i in 0..<ciPad { row[i] = i < cin ? wt[(o * cin + i) * taps + t] : 0 }
            }
        }

        // Input row h = rh + sh·a takes output row a + dh from tap k when (rh + ph − k) = sh·dh.
        // Pad the output gradient so every such row (and column) index lands in the buffer.
        func padding(size: Int, outSize: Int, stride s: Int, pad p: Int, kernel: Int) -> (Int, Int) {
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
        let (top, bottom) = padding(size: h, outSize: oh, stride: sh, pad: ph, kernel: kh)
        let (left, right) = padding(size: w, outSize: ow, stride: sw, pad: pw, kernel: kw)
        let hp = oh + top + bottom, wp = ow + left + right

        let chunks = pool.chunkCount(for: g.batch)
        workspace.prepare(chunks: chunks, scratch: hp * wp * cout, offsets: 2 * taps)
        let dy = outputGradient.baseAddress!, dx = inputGradient.baseAddress!
        pool.parallelChunks(count: g.batch) { chunk, images in
            let padded = workspace.scratch(chunk)
            let tapInput = workspace.offsets(chunk), tapWeight = tapInput + taps
            padded.initialize(repeating: 0, count: hp * wp * cout)
            for n in images {
                copyPadded(dy + n * oh * ow * cout, rows: oh, columns: ow, channels: cout, into: padded,
                           top: top, left: left, paddedColumns: wp)
                let image = dx + n * h * w * cin
                for rh in 0..<min(sh, h) {
                    for rw in 0..<min(sw, w) {
                        var phaseTaps = 0
                        for a in 0..<kh where (rh + ph - a) % sh == 0 {
                            for b in 0..<kw where (rw + pw - b) % sw == 0 {
                                let dh = (rh + ph - a) / sh, dw = (rw + pw - b) / sw
                                tapInput[phaseTaps] = (dh * wp + dw) * cout
                                tapWeight[phaseTaps] = (a * kw + b) * cout * ciPad
                                phaseTaps += 1
                            }
                        }
                        let rows = (h - rh + sh - 1) / sh, columns = (w - rw + sw - 1) / sw
                        runTiles(pixels: rows * columns, outputChannels: cin, taps: phaseTaps,
                                 tapInput: tapInput, tapWeight: tapWeight, reduce: cout, weight: packed,
                                 weightStride: ciPad) { q in
                            let r = q / columns, c = q % columns
                            return (UnsafePointer(padded + ((r + top) * wp + c + left) * cout),
                                    image + ((rh + sh * r) * w + rw + sw * c) * cin)
                        }
                    }
                }
            }
        }
    }
}
