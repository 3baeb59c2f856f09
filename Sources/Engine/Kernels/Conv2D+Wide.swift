import CKernels
import Foundation

extension Conv2D {
    /// Packs a weight for the wide tiles: for each tap in `taps` (kernel row, column) and each
    /// block of `width` outputs, rows `[tap][k][j]` holding `value(o, k, row, column)` for output
    /// `o = block·width + j` and reduced channel `k` (zero for padded outputs). Block `b` starts
    /// `b · taps.count · reduced · width` floats in.
    static func packWide(into packed: UnsafeMutablePointer<Float>, outputs: Int, reduced: Int, width: Int,
                         taps: [(row: Int, column: Int)], value: (Int, Int, Int, Int) -> Float) {
        var p = packed
        for b in 0..<(outputs + width - 1) / width {
            for (r, c) in taps {
                for k in 0..<reduced {
                    for j in 0..<width {
                        let o = b * width + j
                        p[j] = o < outputs ? value(o, k, r, c) : 0
                    }
                    p += width
                }
            }
        }
    }

    /// A grid of output pixels computed by one set of taps: pixel `(r, c)` reads its taps around
    /// `input + r·inputRowStep + c·inputColumnStep` and writes `output + r·outputRowStep + c·outputColumnStep`.
    struct WideGrid {
        var rows: Int, columns: Int
        var inputRowStep: Int, inputColumnStep: Int
        var outputRowStep: Int, outputColumnStep: Int
    }

    /// Room a pointer table needs after its `taps` offsets for `runWideTiles`' pointers.
    static let wideTablePointers = 2 * WideTiles.maximumRows

    /// Fills a grid with wide tiles (`tiles.rows` pixels × `tiles.width` channels), for every block
    /// of `outputChannels`. `table` holds the `taps` input offsets followed by room for
    /// `wideTablePointers` pointers.
    @inline(__always)
    static func runWideTiles(_ grid: WideGrid, tiles: WideTiles, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                             table: UnsafeMutablePointer<Int>, taps: Int, reduced: Int, packed: UnsafePointer<Float>,
                             outputChannels: Int) {
        let rawPointers = UnsafeMutableRawPointer(table + taps)
        let maxRows = WideTiles.maximumRows
        let inputs = rawPointers.bindMemory(to: UnsafePointer<Float>?.self, capacity: maxRows)
        let outputs = (rawPointers + maxRows * MemoryLayout<Int>.stride).bindMemory(to: UnsafeMutablePointer<Float>?.self,
                                                                                   capacity: maxRows)
        let width = tiles.width, pixels = grid.rows * grid.columns
        for b in 0..<(outputChannels + width - 1) / width {
            let lanes = min(width, outputChannels - b * width)
            let weights = packed + b * taps * reduced * width
            var q = 0
            while q < pixels {
                let count = min(tiles.rows, pixels - q)
                for p in 0..<count {
                    let r = (q + p) / grid.columns, c = (q + p) % grid.columns
                    inputs[p] = input + r * grid.inputRowStep + c * grid.inputColumnStep
                    outputs[p] = output + r * grid.outputRowStep + c * grid.outputColumnStep + b * width
                }
                tiles.conv(inputs, pixels: count, offsets: table, taps: taps, channels: reduced, weights: weights,
                           outputs: outputs, lanes: lanes)
                q += count
            }
        }
    }

    /// `forward` on the wide tiles: each image zero-padded (channel stride C_in), one grid of all
    /// output pixels over all kh·kw taps.
    static func forwardWide(_ g: Conv2DGeometry, input x: UnsafePointer<Float>, weight w: UnsafePointer<Float>,
                            output y: UnsafeMutablePointer<Float>, set: ConvKernelSet, workspace: KernelWorkspace, pool: ThreadPool) {
        let cin = g.inputChannels, cout = g.outputChannels, kh = g.kernelHeight, kw = g.kernelWidth
        let taps = (0..<kh * kw).map { (row: $0 / kw, column: $0 % kw) }
        let tiles = WideTiles(set)
        let packed = workspace.packed.reserve(roundUp(cout, tiles.width) * taps.count * cin)
        packWide(into: packed, outputs: cout, reduced: cin, width: tiles.width, taps: taps) { o, i, r, c in
            w[((o * cin + i) * kh + r) * kw + c]
        }
        let hp = g.inputHeight + 2 * g.paddingHeight, wp = g.inputWidth + 2 * g.paddingWidth
        let oh = g.outputHeight, ow = g.outputWidth
        let grid = WideGrid(rows: oh, columns: ow, inputRowStep: g.strideHeight * wp * cin, inputColumnStep: g.strideWidth * cin,
                            outputRowStep: ow * cout, outputColumnStep: cout)
        workspace.prepare(chunks: pool.chunkCount(for: g.batch), scratch: hp * wp * cin, offsets: taps.count + wideTablePointers)
        pool.parallelChunks(count: g.batch) { chunk, images in
            let padded = workspace.scratch(chunk), table = workspace.offsets(chunk)
            for (t, tap) in taps.enumerated() { table[t] = (tap.row * wp + tap.column) * cin }
            padded.initialize(repeating: 0, count: hp * wp * cin)
            for n in images {
                copyPadded(x + n * g.inputHeight * g.inputWidth * cin, rows: g.inputHeight, columns: g.inputWidth,
                           channels: cin, into: padded, channelStride: cin,
                           top: g.paddingHeight, left: g.paddingWidth, paddedColumns: wp)
                runWideTiles(grid, tiles: tiles, input: padded, output: y + n * oh * ow * cout, table: table, taps: taps.count,
                             reduced: cin, packed: packed, outputChannels: cout)
            }
        }
    }

    /// `backwardData` on the wide tiles. Input pixels are grouped by their phase
    /// `(h mod sh, w mod sw)`: pixel `h = rh + sh·r` takes output row `r + dh` from kernel row `a`
    /// when `rh + ph − a = sh·dh`, so within a phase one set of taps serves every pixel — a
    /// correlation of the zero-padded output gradient with the phase's kernel taps (all of them,
    /// flipped, at stride 1). A phase with no taps gets zeros.
    static func backwardDataWide(_ g: Conv2DGeometry, outputGradient dy: UnsafePointer<Float>, weight w: UnsafePointer<Float>,
                                 inputGradient dx: UnsafeMutablePointer<Float>, set: ConvKernelSet, workspace: KernelWorkspace, pool: ThreadPool) {
        let cin = g.inputChannels, cout = g.outputChannels, kh = g.kernelHeight, kw = g.kernelWidth
        let sh = g.strideHeight, sw = g.strideWidth, ph = g.paddingHeight, pw = g.paddingWidth
        let h = g.inputHeight, wd = g.inputWidth, oh = g.outputHeight, ow = g.outputWidth
        struct Phase { var rh: Int, rw: Int, taps: [(row: Int, column: Int)], offsets: [(dh: Int, dw: Int)], packedStart: Int }
        var phases: [Phase] = []
        var packedCount = 0
        let tiles = WideTiles(set)
        for rh in 0..<min(sh, h) {
            for rw in 0..<min(sw, wd) {
                var phase = Phase(rh: rh, rw: rw, taps: [], offsets: [], packedStart: packedCount)
                for a in 0..<kh where (rh + ph - a) % sh == 0 {
                    for k in 0..<kw where (rw + pw - k) % sw == 0 {
                        phase.taps.append((a, k))
                        phase.offsets.append(((rh + ph - a) / sh, (rw + pw - k) / sw))
                    }
                }
                packedCount += roundUp(cin, tiles.width) * phase.taps.count * cout
                phases.append(phase)
            }
        }
        let packed = workspace.packed.reserve(max(packedCount, 1))
        for phase in phases {
            packWide(into: packed + phase.packedStart, outputs: cin, reduced: cout, width: tiles.width, taps: phase.taps) { i, o, a, k in
                w[((o * cin + i) * kh + a) * kw + k]
            }
        }
        // Pad the output gradient so that every (r + dh, c + dw) lands inside the buffer.
        let (top, bottom) = outputGradientPadding(size: h, outSize: oh, stride: sh, pad: ph, kernel: kh)
        let (left, right) = outputGradientPadding(size: wd, outSize: ow, stride: sw, pad: pw, kernel: kw)
        let hp = oh + top + bottom, wp = ow + left + right
        workspace.prepare(chunks: pool.chunkCount(for: g.batch), scratch: hp * wp * cout, offsets: kh * kw + wideTablePointers)
        pool.parallelChunks(count: g.batch) { chunk, images in
            let padded = workspace.scratch(chunk), table = workspace.offsets(chunk)
            padded.initialize(repeating: 0, count: hp * wp * cout)
            for n in images {
                copyPadded(dy + n * oh * ow * cout, rows: oh, columns: ow, channels: cout, into: padded, channelStride: cout,
                           top: top, left: left, paddedColumns: wp)
                let image = dx + n * h * wd * cin
                for phase in phases {
                    for (t, offset) in phase.offsets.enumerated() { table[t] = (offset.dh * wp + offset.dw) * cout }
                    let grid = WideGrid(rows: (h - phase.rh + sh - 1) / sh, columns: (wd - phase.rw + sw - 1) / sw,
                                        inputRowStep: wp * cout, inputColumnStep: cout,
                                        outputRowStep: sh * wd * cin, outputColumnStep: sw * cin)
                    runWideTiles(grid, tiles: tiles, input: padded + (top * wp + left) * cout, output: image + (phase.rh * wd + phase.rw) * cin,
                                 table: table, taps: phase.taps.count, reduced: cout, packed: packed + phase.packedStart,
                                 outputChannels: cin)
                }
            }
        }
    }

    /// The wide weight-gradient tiles (`weightRows` input channels × `width` output channels) over one image, in
    /// strips of about 128 output pixels: a strip's output gradient and input rows stay in L1 while
    /// every tap and channel tile reads them (a whole image per tile pass streamed them from L2
    /// 27 times for a 16-channel layer).
    static func wideWeightTiles(_ g: Conv2DGeometry, _ image: WeightGradientImage, tiles: WideTiles) {
        let cin = g.inputChannels, kw = g.kernelWidth, wp = image.paddedColumns, coPad = image.paddedOutputs
        let oh = g.outputHeight, ow = g.outputWidth
        let stripRows = max(1, 128 / ow)
        for top in stride(from: 0, to: oh, by: stripRows) {
            let rows = min(stripRows, oh - top)
            let stripInput = image.padded + top * g.strideHeight * wp * cin
            let stripGradient = image.gradient + top * ow * image.gradientStride
            for t in 0..<(g.kernelHeight * kw) {
                let tapBase = stripInput + ((t / kw) * wp + t % kw) * cin
                for i in stride(from: 0, to: cin, by: tiles.weightRows) {
                    for block in stride(from: 0, to: coPad, by: tiles.width) {
                        tiles.weightTile(input: tapBase + i, rowStep: g.strideHeight * wp * cin, pixelStep: g.strideWidth * cin,
                                         rows: rows, columns: ow, channels: min(tiles.weightRows, cin - i),
                                         gradient: stripGradient + block, gradientStride: image.gradientStride,
                                         partial: image.partial + (t * cin + i) * coPad + block, partialStride: coPad)
                    }
                }
            }
        }
    }

    /// dW[o][i][t] = Σ_c partial_c[(t·C_in + i)·stride + o] over the `chunks` partial sums, added
    /// in chunk order (the same bits on any number of threads), into `dw` (added to it when
    /// `accumulate`). Rows of the partials (one tap and input channel, `stride` outputs) are summed
    /// in parallel and read in memory order: at small images the partials outweigh the images'
    /// work (ResNet-18 at 32 px: 16 chunks × 9 × 512 × 512 floats in layer 4), and the earlier
    /// single-threaded walk across rows took half a MoCo step.
    static func sumPartials(_ workspace: KernelWorkspace, chunks: Int, outputChannels cout: Int, inputChannels cin: Int,
                            taps: Int, stride: Int, into dw: UnsafeMutablePointer<Float>, accumulate: Bool,
                            pool: ThreadPool = .shared) {
        let parts = (0..<max(chunks, 1)).map { workspace.partial($0) }
        pool.parallelFor(count: taps * cin) { rows in
            let sum = UnsafeMutablePointer<Float>.allocate(capacity: max(cout, 1))
            defer { sum.deallocate() }
            for row in rows {
                let t = row / cin, i = row % cin, base = row * stride
                if chunks > 0 { sum.update(from: parts[0] + base, count: cout) } else { sum.initialize(repeating: 0, count: cout) }
                for c in 1..<max(chunks, 1) {
                    let part = parts[c] + base
                    for o in 0..<cout { sum[o] += part[o] }
                }
                for o in 0..<cout {
                    let target = (o * cin + i) * taps + t
                    dw[target] = accumulate ? dw[target] + sum[o] : sum[o]
                }
            }
        }
    }
}
