import CKernels
import Foundation

/// Which inner loops the convolution kernels run.
public enum ConvKernelSet: String, Sendable {
    /// AVX2 + FMA tiles (`CKernels`): 8-wide fused multiply-adds, broadcast inputs against packed
    /// output-channel rows. Chosen when the CPU and OS support them.
    case wide
    /// The portable Swift SIMD tiles (SSE on x86-64 without `-target-cpu`): every CPU.
    case portable

    /// What this machine can run: `wide` where AVX2 and FMA are available, unless the environment
    /// variable `SBCL_KERNELS=portable` asks for the portable tiles.
    public static let best: ConvKernelSet = {
        if ProcessInfo.processInfo.environment["SBCL_KERNELS"] == "portable" { return .portable }
        return sbcl_cpu_has_avx2_fma() != 0 ? .wide : .portable
    }()
}

extension Conv2D {
    /// The tiles the kernels use; tests switch it to compare the two sets on the same data.
    public static var kernelSet = ConvKernelSet.best

    /// Output channels per wide tile (two 8-float vectors).
    static let wideBlockWidth = 16
    /// Output pixels (forward) or input channels (weight gradient) per wide tile: 6 × 2 vectors
    /// are 12 accumulators, which with two weight vectors and a broadcast fill the 16 ymm registers.
    static let wideTileRows = 6

    /// Packs a weight for the wide tiles: `[block][kh][kw][k][j]`, where output channel
    /// `block·width + j` and reduced channel `k` of tap `(r, c)` hold `value(o, k, r, c)` (zero for
    /// padded output channels).
    static func packWide(into packed: UnsafeMutablePointer<Float>, outputs: Int, reduced: Int, kernelHeight kh: Int,
                         kernelWidth kw: Int, blockWidth: Int, value: (Int, Int, Int, Int) -> Float) {
        let blocks = (outputs + blockWidth - 1) / blockWidth
        var p = packed
        for b in 0..<blocks {
            for r in 0..<kh {
                for c in 0..<kw {
                    for k in 0..<reduced {
                        for j in 0..<blockWidth {
                            let o = b * blockWidth + j
                            p[j] = o < outputs ? value(o, k, r, c) : 0
                        }
                        p += blockWidth
                    }
                }
            }
        }
    }

    /// A correlation with weights packed by `packWide`: for every image, zero-pads it (channel
    /// stride C_in) and fills the output with wide tiles of 6 output pixels × 16 channels. `forward` runs it on the layer's weight; stride-1 `backwardData` on the flipped,
    /// transposed weight over the output gradient.
    static func wideCorrelation(_ g: Conv2DGeometry, input x: UnsafePointer<Float>, packed: UnsafePointer<Float>,
                                output y: UnsafeMutablePointer<Float>, workspace: KernelWorkspace, pool: ThreadPool) {
        let cin = g.inputChannels, cout = g.outputChannels
        let kh = g.kernelHeight, kw = g.kernelWidth, taps = kh * kw
        let blockWidth = wideBlockWidth, tilePixels = wideTileRows
        let blocks = (cout + blockWidth - 1) / blockWidth
        let hp = g.inputHeight + 2 * g.paddingHeight, wp = g.inputWidth + 2 * g.paddingWidth
        let oh = g.outputHeight, ow = g.outputWidth, pixels = oh * ow
        let chunks = pool.chunkCount(for: g.batch)
        // Per chunk: the tap offsets, then six input and six output pointers (as bit patterns).
        workspace.prepare(chunks: chunks, scratch: hp * wp * cin, offsets: taps + 12)
        pool.parallelChunks(count: g.batch) { chunk, images in
            let padded = workspace.scratch(chunk)
            let table = workspace.offsets(chunk)
            for t in 0..<taps { table[t] = ((t / kw) * wp + t % kw) * cin }
            padded.initialize(repeating: 0, count: hp * wp * cin)
            let rawPointers = UnsafeMutableRawPointer(table + taps)
            let inputs = rawPointers.bindMemory(to: UnsafePointer<Float>?.self, capacity: 6)
            let outputs = (rawPointers + 6 * MemoryLayout<Int>.stride).bindMemory(to: UnsafeMutablePointer<Float>?.self, capacity: 6)
            for n in images {
                copyPadded(x + n * g.inputHeight * g.inputWidth * cin, rows: g.inputHeight, columns: g.inputWidth,
                           channels: cin, into: padded, channelStride: cin,
                           top: g.paddingHeight, left: g.paddingWidth, paddedColumns: wp)
                let out = y + n * pixels * cout
                for b in 0..<blocks {
                    let lanes = min(blockWidth, cout - b * blockWidth)
                    let weights = packed + b * taps * cin * blockWidth
                    var q = 0
                    while q < pixels {
                        let count = min(tilePixels, pixels - q)
                        for p in 0..<count {
                            let r = (q + p) / ow, c = (q + p) % ow
                            inputs[p] = UnsafePointer(padded + (r * g.strideHeight * wp + c * g.strideWidth) * cin)
                            outputs[p] = out + (q + p) * cout + b * blockWidth
                        }
                        sbcl_conv_tile_avx2(inputs, Int32(count), table, Int32(taps), Int32(cin), weights,
                                            outputs, Int32(lanes))
                        q += count
                    }
                }
            }
        }
    }

    /// `forward` on the wide tiles.
    static func forwardWide(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight w: UnsafePointer<Float>,
                            output: UnsafeMutablePointer<Float>, workspace: KernelWorkspace, pool: ThreadPool) {
        let cin = g.inputChannels, cout = g.outputChannels, kh = g.kernelHeight, kw = g.kernelWidth
        let blockWidth = wideBlockWidth
        let packed = workspace.packed.reserve(roundUp(cout, blockWidth) * kh * kw * cin)
        packWide(into: packed, outputs: cout, reduced: cin, kernelHeight: kh, kernelWidth: kw, blockWidth: blockWidth) { o, i, r, c in
            w[((o * cin + i) * kh + r) * kw + c]
        }
        wideCorrelation(g, input: input, packed: packed, output: output, workspace: workspace, pool: pool)
    }

    /// Whether `backwardData` can run as one wide correlation: stride 1 and padding below the
    /// kernel size (then the input gradient is the output gradient, padded by `k − 1 − p`,
    /// correlated with the flipped kernel with input and output channels swapped).
    static func backwardDataIsCorrelation(_ g: Conv2DGeometry) -> Bool {
        g.strideHeight == 1 && g.strideWidth == 1 && g.paddingHeight < g.kernelHeight && g.paddingWidth < g.kernelWidth
    }

    /// Stride-1 `backwardData` on the wide tiles.
    static func backwardDataWide(_ g: Conv2DGeometry, outputGradient: UnsafePointer<Float>, weight w: UnsafePointer<Float>,
                                 inputGradient: UnsafeMutablePointer<Float>, workspace: KernelWorkspace, pool: ThreadPool) {
        let cin = g.inputChannels, cout = g.outputChannels, kh = g.kernelHeight, kw = g.kernelWidth
        let transposed = Conv2DGeometry(batch: g.batch, inputHeight: g.outputHeight, inputWidth: g.outputWidth,
                                        inputChannels: cout, outputChannels: cin, kernelHeight: kh, kernelWidth: kw,
                                        strideHeight: 1, strideWidth: 1,
                                        paddingHeight: kh - 1 - g.paddingHeight, paddingWidth: kw - 1 - g.paddingWidth)
        precondition(transposed.outputHeight == g.inputHeight && transposed.outputWidth == g.inputWidth,
                     "Conv2D.backwardData: \(g) is not a stride-1 correlation")
        let blockWidth = wideBlockWidth
        let packed = workspace.packed.reserve(roundUp(cin, blockWidth) * kh * kw * cout)
        packWide(into: packed, outputs: cin, reduced: cout, kernelHeight: kh, kernelWidth: kw, blockWidth: blockWidth) { i, o, r, c in
            w[((o * cin + i) * kh + (kh - 1 - r)) * kw + (kw - 1 - c)]
        }
        wideCorrelation(transposed, input: outputGradient, packed: packed, output: inputGradient, workspace: workspace, pool: pool)
    }

    /// `backwardWeight` on the wide tiles: per chunk of images, partial sums `[kh][kw][i][o]` with
    /// `o` padded to the block width, then `sumPartials`.
    static func backwardWeightWide(_ g: Conv2DGeometry, input x: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                                   weightGradient: UnsafeMutablePointer<Float>, accumulate: Bool,
                                   workspace: KernelWorkspace, pool: ThreadPool) {
        let cin = g.inputChannels, cout = g.outputChannels
        let taps = g.kernelHeight * g.kernelWidth, kw = g.kernelWidth
        let blockWidth = wideBlockWidth, tileChannels = wideTileRows
        let coPad = roundUp(cout, blockWidth)
        let h = g.inputHeight, w = g.inputWidth, oh = g.outputHeight, ow = g.outputWidth
        let hp = h + 2 * g.paddingHeight, wp = w + 2 * g.paddingWidth
        let copyGradient = cout != coPad
        let paddedFloats = hp * wp * cin, partialFloats = taps * cin * coPad
        let chunks = pool.chunkCount(for: g.batch)
        workspace.prepare(chunks: max(chunks, 1), scratch: paddedFloats + (copyGradient ? oh * ow * coPad : 0),
                          partial: partialFloats)
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
                    for q in 0..<(oh * ow) { (gradientCopy + q * coPad).update(from: gradient + q * cout, count: cout) }
                    gradient = UnsafePointer(gradientCopy)
                }
                // Strips of about 128 output pixels: a strip's output gradient and input rows stay
                // in L1 while every tap and channel tile reads them (a whole image per tile pass
                // streamed them from L2 27 times for a 16-channel layer).
                let gradientStride = copyGradient ? coPad : cout
                let stripRows = max(1, 128 / ow)
                for top in stride(from: 0, to: oh, by: stripRows) {
                    let rows = min(stripRows, oh - top)
                    let stripInput = padded + top * g.strideHeight * wp * cin
                    let stripGradient = gradient + top * ow * gradientStride
                    for t in 0..<taps {
                        let tapBase = stripInput + ((t / kw) * wp + t % kw) * cin
                        for i in stride(from: 0, to: cin, by: tileChannels) {
                            for block in stride(from: 0, to: coPad, by: blockWidth) {
                                sbcl_conv_weight_tile_avx2(tapBase + i, g.strideHeight * wp * cin, g.strideWidth * cin,
                                                           Int32(rows), Int32(ow), Int32(min(tileChannels, cin - i)),
                                                           stripGradient + block, gradientStride,
                                                           partial + (t * cin + i) * coPad + block, coPad)
                            }
                        }
                    }
                }
            }
        }
        sumPartials(workspace, chunks: chunks, outputChannels: cout, inputChannels: cin, taps: taps, stride: coPad,
                    into: weightGradient, accumulate: accumulate)
    }

    /// Adds the chunks' partial weight gradients `[kh][kw][i][o]` (rows `stride` floats apart) in
    /// chunk order — bit-identical for a given thread count — and writes them transposed to OIHW.
    static func sumPartials(_ workspace: KernelWorkspace, chunks: Int, outputChannels cout: Int, inputChannels cin: Int,
                            taps: Int, stride: Int, into dw: UnsafeMutablePointer<Float>, accumulate: Bool) {
        for o in 0..<cout {
            for i in 0..<cin {
                for t in 0..<taps {
                    let index = (t * cin + i) * stride + o
                    var sum: Float = chunks > 0 ? workspace.partial(0)[index] : 0
                    for c in 1..<max(chunks, 1) { sum += workspace.partial(c)[index] }
                    let target = (o * cin + i) * taps + t
                    dw[target] = accumulate ? dw[target] + sum : sum
                }
            }
        }
    }
}
