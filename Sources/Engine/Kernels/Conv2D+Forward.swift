/// Direct 2-D convolution over NHWC activations with OIHW weights (no bias, dilation 1, one group).
///
/// Each call repacks the weight into `workspace` (a few thousand floats for a ResNet-32 layer),
/// copies one image at a time into a zero-padded per-thread buffer, and computes tiles of four output
/// pixels × eight output channels in registers. Work is split over images with `pool`.
public enum Conv2D {}

extension Conv2D {
    /// `output[n, oh, ow, o] = Σ_{kh, kw, i} input[n, oh·sh − ph + kh, ow·sw − pw + kw, i] · weight[o, i, kh, kw]`.
    ///
    /// - Parameters:
    ///   - input: N × H × W × C_in floats.
    ///   - weight: C_out × C_in × KH × KW floats (PyTorch's layout).
    ///   - output: N × OH × OW × C_out floats, overwritten.
    public static func forward(
        _ geometry: Conv2DGeometry, input: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>,
        output: UnsafeMutableBufferPointer<Float>, workspace: KernelWorkspace, pool: ThreadPool = .shared
    ) {
        let g = geometry
        g.validate("Conv2D.forward", input: input.count, output: output.count, weight: weight.count)
        guard g.batch > 0 else { return }
        let cin = g.inputChannels, cout = g.outputChannels
        let kh = g.kernelHeight, kw = g.kernelWidth, taps = kh * kw
        let coPad = roundUp(cout, channelBlock)

        // Packed weight: [kh][kw][i][o], o padded with zeros to a multiple of 8.
        let packed = workspace.packed.reserve(taps * cin * coPad)
        let w = weight.baseAddress!
        for t in 0..<taps {
            for i in 0..<cin {
                let row = packed + (t * cin + i) * coPad
                for o in 0..<coPad { row[o] = o < cout ? w[(o * cin + i) * taps + t] : 0 }
            }
        }

        let hp = g.inputHeight + 2 * g.paddingHeight, wp = g.inputWidth + 2 * g.paddingWidth
        let chunks = pool.chunkCount(for: g.batch)
        workspace.prepare(chunks: chunks, scratch: hp * wp * cin, offsets: 2 * taps)
        let x = input.baseAddress!, y = output.baseAddress!
        pool.parallelChunks(count: g.batch) { chunk, images in
            let padded = workspace.scratch(chunk)
            let tapInput = workspace.offsets(chunk), tapWeight = tapInput + taps
            for t in 0..<taps {
                tapInput[t] = ((t / kw) * wp + t % kw) * cin
                tapWeight[t] = t * cin * coPad
            }
            padded.initialize(repeating: 0, count: hp * wp * cin)
            let oh = g.outputHeight, ow = g.outputWidth
            for n in images {
                copyPadded(x + n * g.inputHeight * g.inputWidth * cin, rows: g.inputHeight,
                           columns: g.inputWidth, channels: cin, into: padded,
                           top: g.paddingHeight, left: g.paddingWidth, paddedColumns: wp)
                let out = y + n * oh * ow * cout
                runTiles(pixels: oh * ow, outputChannels: cout, taps: taps, tapInput: tapInput,
                         tapWeight: tapWeight, reduce: cin, weight: packed, weightStride: coPad) { q in
                    let r = q / ow, c = q % ow
                    return (UnsafePointer(padded + (r * g.strideHeight * wp + c * g.strideWidth) * cin),
                            out + q * cout)
                }
            }
        }
    }

    /// Copies a `rows × columns × channels` image into the interior of a zero-bordered buffer.
    @inline(__always)
    static func copyPadded(_ source: UnsafePointer<Float>, rows: Int, columns: Int, channels: Int,
                           into padded: UnsafeMutablePointer<Float>, top: Int, left: Int, paddedColumns: Int) {
        let rowFloats = columns * channels
        for r in 0..<rows {
            (padded + ((r + top) * paddedColumns + left) * channels)
                .update(from: source + r * rowFloats, count: rowFloats)
        }
    }

    /// Runs `convolutionTile` over `pixels` output pixels (four at a time) and all output channels
    /// (eight at a time); `pixel(q)` gives pixel `q`'s input base and output pointer.
    @inline(__always)
    static func runTiles(
        pixels: Int, outputChannels: Int, taps: Int, tapInput: UnsafePointer<Int>, tapWeight: UnsafePointer<Int>,
        reduce: Int, weight: UnsafePointer<Float>, weightStride: Int,
        pixel: (Int) -> (UnsafePointer<Float>, UnsafeMutablePointer<Float>)
    ) {
        for block in stride(from: 0, to: outputChannels, by: channelBlock) {
            let lanes = min(channelBlock, outputChannels - block)
            let wb = weight + block
            var q = 0
            while q < pixels {
                let count = min(tilePixels, pixels - q)
                let (i0, o0) = pixel(q)
                let (i1, o1) = count > 1 ? pixel(q + 1) : (i0, o0)
                let (i2, o2) = count > 2 ? pixel(q + 2) : (i1, o1)
                let (i3, o3) = count > 3 ? pixel(q + 3) : (i2, o2)
                convolutionTile(i0, i1, i2, i3, o0 + block, o1 + block, o2 + block, o3 + block,
                                count: count, lanes: lanes, taps: taps, tapInput: tapInput,
                                tapWeight: tapWeight, reduce: reduce, weight: wb, weightStride: weightStride)
                q += count
            }
        }
    }
}
