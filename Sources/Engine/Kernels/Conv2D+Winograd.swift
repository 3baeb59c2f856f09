import CKernels
import Foundation

/// How the 3×3 stride-1 convolutions are computed.
public enum ConvAlgorithm: String, Sendable, CaseIterable {
    /// Winograd where `Conv2D.winogradMinimumChannels` says it is faster, direct tiles elsewhere.
    case auto
    /// Always the direct tiles.
    case direct
    /// Winograd for every 3×3 stride-1 convolution with padding ≤ 2 (on the wide kernel sets).
    case winograd

    /// The algorithm a name asks for (`auto`, `direct` or `winograd`, any case; the executables read
    /// it from `SBCL_CONV`), or why it names none.
    public static func resolve(_ name: String) -> Result<ConvAlgorithm, KernelSetError> {
        guard let algorithm = ConvAlgorithm(rawValue: name.lowercased()) else {
            return .failure(KernelSetError("SBCL_CONV=\(name) is not a convolution algorithm; use auto, direct or winograd"))
        }
        return .success(algorithm)
    }
}

/// Winograd F(2×2, 3×3) for 3×3, stride-1 convolutions (forward, backward-data and backward-weight),
/// on the wide kernel sets. The transforms and the 16 matrix products per block of tiles run in C
/// (`winograd.c`, on the same register tiles as the direct kernels); this file packs the
/// transformed weights, pads the images, splits the batch over threads and finishes the weight
/// gradient (Gᵀ dU G).
///
/// Rounding: each output is a sum of products of transformed values (factors 1, ½ and −1), so it
/// differs from the direct convolution by a few float32 ulps of the inputs' magnitude — tested
/// against a Float64 convolution at ≤ 1e-4 relative on every ResNet shape.
extension Conv2D {
    /// Smallest input and output channel count for which `auto` picks Winograd. Measured with
    /// `sbcl-bench conv` (docs/performance.md): with fewer channels the products' reduction is too
    /// short to pay for the transforms (the stem's 1–3 input channels).
    static let winogradMinimumChannels = 16

    /// Fewest output pixels per image for which `auto` picks Winograd: at 2×2 and 1×1 outputs (a
    /// ResNet's last stages on 32-pixel crops) one 4×4 tile per image yields 4 or 1 outputs, and the
    /// transforms and the 16 partial products per channel pair cost more than the direct kernels
    /// (`sbcl-bench step --moco --arch resnet18 --size 32`, docs/performance.md).
    static let winogradMinimumOutputPixels = 16

    /// True when `g` is a convolution the Winograd kernels compute: 3×3, stride 1, padding ≤ 2 on each side.
    static func winogradApplies(_ g: Conv2DGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideHeight == 1 && g.strideWidth == 1
            && (0...2).contains(g.paddingHeight) && (0...2).contains(g.paddingWidth)
            && g.outputHeight > 0 && g.outputWidth > 0
    }

    /// True when `g` goes to the Winograd kernels with `kernels` (a set and an algorithm).
    public static func usesWinograd(_ g: Conv2DGeometry, kernels: ConvKernels = CPUBackend.shared.convKernels) -> Bool {
        guard kernels.set != .portable, winogradApplies(g) else { return false }
        switch kernels.algorithm {
        case .direct: return false
        case .winograd: return true
        case .auto:
            return min(g.inputChannels, g.outputChannels) >= winogradMinimumChannels
                && g.outputHeight * g.outputWidth >= winogradMinimumOutputPixels
        }
    }

    /// G g Gᵀ for a 3×3 kernel `g` (by tap, row-major), computed in Float64; `store(ξ, value)`
    /// receives the 16 values (row-major 4×4). Allocation-free: it runs C_in·C_out times per call.
    @inline(__always)
    static func transformKernel(_ g: (Int) -> Float, _ store: (Int, Float) -> Void) {
        // G·g, column by column: rows g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2.
        var gg: (SIMD4<Double>, SIMD4<Double>, SIMD4<Double>) = (.zero, .zero, .zero)
        for c in 0..<3 {
            let g0 = Double(g(c)), g1 = Double(g(3 + c)), g2 = Double(g(6 + c))
            let column = SIMD4<Double>(g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2)
            switch c {
            case 0: gg.0 = column
            case 1: gg.1 = column
            default: gg.2 = column
            }
        }
        // (G·g)·Gᵀ, row by row.
        for r in 0..<4 {
            let a = gg.0[r], b = gg.1[r], c = gg.2[r]
            store(4 * r + 0, Float(a))
            store(4 * r + 1, Float((a + b + c) / 2))
            store(4 * r + 2, Float((a - b + c) / 2))
            store(4 * r + 3, Float(c))
        }
    }

    /// Packs transformed weights as `[16][output block][reduced][width]`: `tap(o, k, t)` is output
    /// `o`'s 3×3 kernel over reduced channel `k` at tap `t` (row·3 + column).
    static func packWinograd(into packed: UnsafeMutablePointer<Float>, outputs: Int, reduced: Int, width: Int,
                             tap: (Int, Int, Int) -> Float) {
        let blocks = (outputs + width - 1) / width, padded = blocks * width
        packed.initialize(repeating: 0, count: 16 * padded * reduced)
        for o in 0..<outputs {
            let b = o / width, j = o % width
            for k in 0..<reduced {
                transformKernel({ t in tap(o, k, t) }) { xi, value in packed[((xi * blocks + b) * reduced + k) * width + j] = value }
            }
        }
    }

    /// Images per C call and tiles per block: at least ~64 tiles per call so that small late-layer
    /// images still fill the register tiles, and blocks whose transformed inputs and products
    /// (16 · tiles · (reduced + outputs) floats) stay within ~192 KiB of L2.
    static func winogradBlocking(tilesPerImage: Int, reduced: Int, paddedOutputs: Int, rows: Int) -> (images: Int, blockTiles: Int) {
        let images = max(1, (64 + tilesPerImage - 1) / tilesPerImage)
        let budget = 49_152 / (16 * (reduced + paddedOutputs))
        let blockTiles = max(rows, budget / rows * rows)
        return (images, blockTiles)
    }

    /// Correlates `images` NHWC images (`height × width × reduced`, zero-padded by `padTop`/`padLeft`)
    /// with 3×3 kernels into `outputHeight × outputWidth × outputs` images, by Winograd.
    static func winogradConvolve(images count: Int, height h: Int, width wd: Int, reduced: Int, padTop: Int, padLeft: Int,
                                 outputHeight oh: Int, outputWidth ow: Int, outputs: Int,
                                 input x: UnsafePointer<Float>, output y: UnsafeMutablePointer<Float>,
                                 tap: (Int, Int, Int) -> Float, set: ConvKernelSet, workspace: KernelWorkspace, pool: ThreadPool) {
        let tiles = WideTiles(set)
        let paddedOutputs = roundUp(outputs, tiles.width)
        let packed = workspace.packed.reserve(16 * paddedOutputs * reduced)
        packWinograd(into: packed, outputs: outputs, reduced: reduced, width: tiles.width, tap: tap)
        let tilesH = (oh + 1) / 2, tilesW = (ow + 1) / 2
        let hp = 2 * tilesH + 2, wp = 2 * tilesW + 2
        let (group, blockTiles) = winogradBlocking(tilesPerImage: tilesH * tilesW, reduced: reduced,
                                                   paddedOutputs: paddedOutputs, rows: tiles.rows)
        let imageFloats = hp * wp * reduced
        let work = 16 * blockTiles * (reduced + paddedOutputs) + paddedOutputs
        workspace.prepare(chunks: pool.chunkCount(for: count), scratch: group * imageFloats + work)
        let avx512 = tiles.set == .avx512
        pool.parallelChunks(count: count) { chunk, images in
            let padded = workspace.scratch(chunk)
            padded.initialize(repeating: 0, count: group * imageFloats)
            for first in stride(from: images.lowerBound, to: images.upperBound, by: group) {
                let n = min(group, images.upperBound - first)
                for k in 0..<n {
                    copyPadded(x + (first + k) * h * wd * reduced, rows: h, columns: wd, channels: reduced,
                               into: padded + k * imageFloats, channelStride: reduced, top: padTop, left: padLeft,
                               paddedColumns: wp)
                }
                var job = sbcl_winograd_job(
                    input: padded, input_image_stride: imageFloats, input_row: wp * reduced,
                    images: Int32(n), channels: Int32(reduced), tiles_h: Int32(tilesH), tiles_w: Int32(tilesW),
                    weights: packed, outputs: Int32(outputs), width: Int32(tiles.width),
                    output: y + first * oh * ow * outputs, output_image_stride: oh * ow * outputs,
                    out_h: Int32(oh), out_w: Int32(ow), scratch: padded + group * imageFloats, block_tiles: Int32(blockTiles))
                if avx512 { sbcl_winograd_forward_avx512(&job) } else { sbcl_winograd_forward_avx2(&job) }
            }
        }
    }

    /// `forward` by Winograd.
    static func forwardWinograd(_ g: Conv2DGeometry, input x: UnsafePointer<Float>, weight w: UnsafePointer<Float>,
                                output y: UnsafeMutablePointer<Float>, set: ConvKernelSet, workspace: KernelWorkspace, pool: ThreadPool) {
        let cin = g.inputChannels
        winogradConvolve(images: g.batch, height: g.inputHeight, width: g.inputWidth, reduced: cin,
                         padTop: g.paddingHeight, padLeft: g.paddingWidth, outputHeight: g.outputHeight,
                         outputWidth: g.outputWidth, outputs: g.outputChannels, input: x, output: y,
                         tap: { o, i, t in w[(o * cin + i) * 9 + t] }, set: set, workspace: workspace, pool: pool)
    }

    /// `backwardData` by Winograd: the input gradient of a 3×3 stride-1 convolution with padding p is
    /// the correlation of the output gradient, padded by 2 − p, with the kernels flipped and their
    /// channel roles swapped.
    static func backwardDataWinograd(_ g: Conv2DGeometry, outputGradient dy: UnsafePointer<Float>, weight w: UnsafePointer<Float>,
                                     inputGradient dx: UnsafeMutablePointer<Float>, set: ConvKernelSet, workspace: KernelWorkspace, pool: ThreadPool) {
        let cin = g.inputChannels
        winogradConvolve(images: g.batch, height: g.outputHeight, width: g.outputWidth, reduced: g.outputChannels,
                         padTop: 2 - g.paddingHeight, padLeft: 2 - g.paddingWidth, outputHeight: g.inputHeight,
                         outputWidth: g.inputWidth, outputs: cin, input: dy, output: dx,
                         tap: { i, o, t in w[(o * cin + i) * 9 + 8 - t] }, set: set, workspace: workspace, pool: pool)
    }

    /// `backwardWeight` by Winograd: per chunk of images dU[ξ][i][o] = Σ V[ξ]ᵀ (A dY Aᵀ)[ξ] in C, the
    /// fixed chunks (`ThreadPool.reductionChunkCount`) added in order — the same bits on any number
    /// of threads — then dW = Gᵀ dU G.
    static func backwardWeightWinograd(_ g: Conv2DGeometry, input x: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
                                       weightGradient dw: UnsafeMutablePointer<Float>, accumulate: Bool,
                                       set: ConvKernelSet, workspace: KernelWorkspace, pool: ThreadPool) {
        let cin = g.inputChannels, cout = g.outputChannels, h = g.inputHeight, wd = g.inputWidth
        let oh = g.outputHeight, ow = g.outputWidth
        let tiles = WideTiles(set)
        let paddedOutputs = roundUp(cout, tiles.width)
        let tilesH = (oh + 1) / 2, tilesW = (ow + 1) / 2
        let hp = 2 * tilesH + 2, wp = 2 * tilesW + 2
        let (group, blockTiles) = winogradBlocking(tilesPerImage: tilesH * tilesW, reduced: cin,
                                                   paddedOutputs: paddedOutputs, rows: tiles.rows)
        let imageFloats = hp * wp * cin, partialFloats = 16 * cin * paddedOutputs
        let work = 16 * blockTiles * (cin + paddedOutputs) + paddedOutputs
        let chunks = ThreadPool.reductionChunkCount(for: g.batch)
        workspace.prepare(chunks: max(chunks, 1), scratch: group * imageFloats + work, partial: partialFloats)
        let avx512 = tiles.set == .avx512
        pool.parallelReductionChunks(count: g.batch) { chunk, images in
            let padded = workspace.scratch(chunk), partial = workspace.partial(chunk)
            padded.initialize(repeating: 0, count: group * imageFloats)
            partial.initialize(repeating: 0, count: partialFloats)
            for first in stride(from: images.lowerBound, to: images.upperBound, by: group) {
                let n = min(group, images.upperBound - first)
                for k in 0..<n {
                    copyPadded(x + (first + k) * h * wd * cin, rows: h, columns: wd, channels: cin,
                               into: padded + k * imageFloats, channelStride: cin, top: g.paddingHeight,
                               left: g.paddingWidth, paddedColumns: wp)
                }
                var job = sbcl_winograd_weight_job(
                    input: padded, input_image_stride: imageFloats, input_row: wp * cin,
                    images: Int32(n), channels: Int32(cin), tiles_h: Int32(tilesH), tiles_w: Int32(tilesW),
                    gradient: dy + first * oh * ow * cout, gradient_image_stride: oh * ow * cout,
                    out_h: Int32(oh), out_w: Int32(ow), outputs: Int32(cout), width: Int32(tiles.width),
                    partial: partial, scratch: padded + group * imageFloats, block_tiles: Int32(blockTiles))
                if avx512 { sbcl_winograd_weight_avx512(&job) } else { sbcl_winograd_weight_avx2(&job) }
            }
        }
        // dW[o][i][a][c] = Σ_{p,q} G[p][a] · dU[p][q][i][o] · G[q][c], with G's rows
        // (1, 0, 0), (½, ½, ½), (½, −½, ½), (0, 0, 1).
        let gm: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        // The 3×3 ← 4×4 map as 9 × 16 coefficients.
        var coefficients = [Double](repeating: 0, count: 9 * 16) // read by the threads below, written only here
        for a in 0..<3 {
            for c in 0..<3 {
                for p in 0..<4 { for q in 0..<4 { coefficients[(3 * a + c) * 16 + 4 * p + q] = gm[p][a] * gm[q][c] } }
            }
        }
        // dU = Σ_c partial_c, added in chunk order into partial 0 (the same bits on any number of
        // threads), rows in parallel and in memory order; then Gᵀ dU G per (i, o), in parallel over i.
        // (At small images the partials outweigh the images' work: a single-threaded walk across
        // them took half a ResNet-18 MoCo step at 32 px.)
        let parts = (0..<max(chunks, 1)).map { workspace.partial($0) }
        if chunks > 1 {
            pool.parallelFor(count: 16 * cin) { rows in
                for row in rows {
                    let total = parts[0] + row * paddedOutputs
                    for c in 1..<chunks {
                        let part = parts[c] + row * paddedOutputs
                        for o in 0..<cout { total[o] += part[o] }
                    }
                }
            }
        }
        pool.parallelFor(count: cin) { inputs in
            var du = [Double](repeating: 0, count: 16)
            for i in inputs {
                for o in 0..<cout {
                    for xi in 0..<16 { du[xi] = chunks > 0 ? Double(parts[0][(xi * cin + i) * paddedOutputs + o]) : 0 }
                    let target = dw + (o * cin + i) * 9
                    for a in 0..<3 {
                        for c in 0..<3 {
                            var value = 0.0
                            for xi in 0..<16 { value += coefficients[(3 * a + c) * 16 + xi] * du[xi] }
                            target[3 * a + c] = accumulate ? target[3 * a + c] + Float(value) : Float(value)
                        }
                    }
                }
            }
        }
    }
}
