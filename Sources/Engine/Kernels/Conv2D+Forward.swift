/// Direct 2-D convolution over NHWC activations with OIHW weights (no bias, dilation 1, one group).
///
/// Each call repacks the weight into `workspace` (a few thousand floats for a ResNet-32 layer),
/// copies one image at a time into a zero-padded per-thread buffer (channels padded to a multiple
/// of 4), and computes tiles of two output pixels × four output channels in registers as dot
/// products along the contiguous (kernel column, channel) axis. Work is split over images with `pool`.
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
        output: UnsafeMutableBufferPointer<Float>, kernels: ConvKernels = CPUBackend.shared.convKernels,
        workspace: KernelWorkspace, pool: ThreadPool = .shared
    ) {
        let g = geometry
        g.validate("Conv2D.forward", input: input.count, output: output.count, weight: weight.count)
        guard g.batch > 0 else { return }
        if usesGEMM(g) {
            return forwardGEMM(g, input.baseAddress!, weight.baseAddress!, output.baseAddress!, pool: pool)
        }
        if usesWinograd(g, kernels: kernels) {
            return forwardWinograd(g, input: input.baseAddress!, weight: weight.baseAddress!, output: output.baseAddress!,
                                   set: kernels.set, workspace: workspace, pool: pool)
        }
        if kernels.set != .portable {
            return forwardWide(g, input: input.baseAddress!, weight: weight.baseAddress!, output: output.baseAddress!,
                               set: kernels.set, workspace: workspace, pool: pool)
        }
        let cin = g.inputChannels, cout = g.outputChannels
        let kh = g.kernelHeight, kw = g.kernelWidth
        let cinPad = roundUp(cin, dotChannels)
        // One kernel row of one output channel is a contiguous run: kw columns × cinPad channels.
        let length = kw * cinPad

        // Packed weight: [kh][o][kw][i], i padded with zeros to a multiple of 4.
        let packed = workspace.packed.reserve(kh * cout * length)
        let w = weight.baseAddress!
        for r in 0..<kh {
            for o in 0..<cout {
                let row = packed + (r * cout + o) * length
                for c in 0..<kw {
                    for i in 0..<cinPad {
                        row[c * cinPad + i] = i < cin ? w[((o * cin + i) * kh + r) * kw + c] : 0
                    }
                }
            }
        }

        let hp = g.inputHeight + 2 * g.paddingHeight, wp = g.inputWidth + 2 * g.paddingWidth
        let chunks = pool.chunkCount(for: g.batch)
        workspace.prepare(chunks: chunks, scratch: hp * wp * cinPad, offsets: 2 * kh)
        let x = input.baseAddress!, y = output.baseAddress!
        pool.parallelChunks(count: g.batch) { chunk, images in
            let padded = workspace.scratch(chunk)
            let tapInput = workspace.offsets(chunk), tapWeight = tapInput + kh
            for r in 0..<kh {
                tapInput[r] = r * wp * cinPad
                tapWeight[r] = r * cout * length
            }
            padded.initialize(repeating: 0, count: hp * wp * cinPad)
            let oh = g.outputHeight, ow = g.outputWidth
            for n in images {
                copyPadded(x + n * g.inputHeight * g.inputWidth * cin, rows: g.inputHeight,
                           columns: g.inputWidth, channels: cin, into: padded, channelStride: cinPad,
                           top: g.paddingHeight, left: g.paddingWidth, paddedColumns: wp)
                let out = y + n * oh * ow * cout
                runTiles(pixels: oh * ow, outputChannels: cout, taps: kh, tapInput: tapInput,
                         tapWeight: tapWeight, length: length, weight: packed, rowStride: length) { q in
                    let r = q / ow, c = q % ow
                    return (UnsafePointer(padded + (r * g.strideHeight * wp + c * g.strideWidth) * cinPad),
                            out + q * cout)
                }
            }
        }
    }

    /// Copies a `rows × columns × channels` image into the interior of a zero-bordered buffer whose
    /// pixels are `channelStride` floats apart (extra channels keep their zeros).
    @inline(__always)
    static func copyPadded(_ source: UnsafePointer<Float>, rows: Int, columns: Int, channels: Int,
                           into padded: UnsafeMutablePointer<Float>, channelStride: Int,
                           top: Int, left: Int, paddedColumns: Int) {
        for r in 0..<rows {
            let dst = padded + ((r + top) * paddedColumns + left) * channelStride
            let src = source + r * columns * channels
            if channels == channelStride {
                dst.update(from: src, count: columns * channels)
            } else {
                for c in 0..<columns { (dst + c * channelStride).update(from: src + c * channels, count: channels) }
            }
        }
    }

    /// Runs `dotTile` over `pixels` output pixels (two at a time) and all output channels (four at
    /// a time); `pixel(q)` gives pixel `q`'s input base and output pointer. Output channel `j`'s
    /// weights start at `weight + j·rowStride` (plus each tap's offset).
    @inline(__always)
    static func runTiles(
        pixels: Int, outputChannels: Int, taps: Int, tapInput: UnsafePointer<Int>, tapWeight: UnsafePointer<Int>,
        length: Int, weight: UnsafePointer<Float>, rowStride: Int,
        pixel: (Int) -> (UnsafePointer<Float>, UnsafeMutablePointer<Float>)
    ) {
        for block in stride(from: 0, to: outputChannels, by: dotChannels) {
            let lanes = min(dotChannels, outputChannels - block)
            let wb = weight + block * rowStride
            var q = 0
            while q < pixels {
                let count = min(tilePixels, pixels - q)
                let (i0, o0) = pixel(q)
                let (i1, o1) = count > 1 ? pixel(q + 1) : (i0, o0)
                dotTile(i0, i1, o0 + block, o1 + block, count: count, lanes: lanes, taps: taps,
                        tapInput: tapInput, tapWeight: tapWeight, length: length, weight: wb, rowStride: rowStride)
                q += count
            }
        }
    }
}
