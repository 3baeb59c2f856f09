// Register-blocked inner loops shared by the convolution kernels. They use SIMD8<Float> over
// output channels and keep several output pixels' accumulators in registers; without
// `-target-cpu` this lowers to SSE (two xmm registers per SIMD8), which Zen and Intel cores issue
// as separate multiplies and adds on two pipes each.

typealias V8 = SIMD8<Float>

/// Pixels per register tile of `convolutionTile` (4 pixels × 8 channels = 8 xmm accumulators:
/// six pixels spilled accumulators to the stack under SSE's 16 registers).
let tilePixels = 4
/// Channels per vector: output channels are packed and padded in groups of this size.
let channelBlock = 8

@inline(__always)
func roundUp(_ value: Int, _ multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }

@inline(__always)
func loadAligned(_ p: UnsafePointer<Float>) -> V8 {
    UnsafeRawPointer(p).load(as: V8.self)
}

@inline(__always)
func loadUnaligned(_ p: UnsafePointer<Float>) -> V8 {
    UnsafeRawPointer(p).loadUnaligned(as: V8.self)
}

/// Stores the first `lanes` lanes of `v` at `p` (all 8 with one unaligned store when `lanes == 8`).
@inline(__always)
func store(_ v: V8, _ p: UnsafeMutablePointer<Float>, lanes: Int) {
    if lanes == channelBlock {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self)
    } else {
        for l in 0..<lanes { p[l] = v[l] }
    }
}

/// Computes up to four output pixels × 8 output channels of a correlation and stores them.
///
/// For pixel `p` (input base `i_p`, output `o_p`) and lane `c`:
/// `o_p[c] = Σ_t Σ_k i_p[tapInput[t] + k] · weight[tapWeight[t] + k·weightStride + c]`.
/// `weight` must be 32-byte aligned with `weightStride` a multiple of 8. Pixels beyond `count`
/// must repeat a valid pointer; they are computed and not stored.
@inline(__always)
func convolutionTile(
    _ i0: UnsafePointer<Float>, _ i1: UnsafePointer<Float>, _ i2: UnsafePointer<Float>, _ i3: UnsafePointer<Float>,
    _ o0: UnsafeMutablePointer<Float>, _ o1: UnsafeMutablePointer<Float>, _ o2: UnsafeMutablePointer<Float>,
    _ o3: UnsafeMutablePointer<Float>,
    count: Int, lanes: Int,
    taps: Int, tapInput: UnsafePointer<Int>, tapWeight: UnsafePointer<Int>,
    reduce: Int, weight: UnsafePointer<Float>, weightStride: Int
) {
    var a0 = V8(), a1 = V8(), a2 = V8(), a3 = V8()
    for t in 0..<taps {
        let off = tapInput[t]
        let p0 = i0 + off, p1 = i1 + off, p2 = i2 + off, p3 = i3 + off
        var w = weight + tapWeight[t]
        for k in 0..<reduce {
            let wv = loadAligned(w)
            a0 += V8(repeating: p0[k]) * wv
            a1 += V8(repeating: p1[k]) * wv
            a2 += V8(repeating: p2[k]) * wv
            a3 += V8(repeating: p3[k]) * wv
            w += weightStride
        }
    }
    store(a0, o0, lanes: lanes)
    if count > 1 { store(a1, o1, lanes: lanes) }
    if count > 2 { store(a2, o2, lanes: lanes) }
    if count > 3 { store(a3, o3, lanes: lanes) }
}

/// Accumulates a weight-gradient tile: four input channels × 8 output channels, summed over a
/// `rows × columns` grid of output pixels, into `partial` (rows `partialStride` apart, aligned).
///
/// For channel `j < count` and lane `c`: `partial[j·partialStride + c] +=
/// Σ_{r,q} input[r·inputRowStep + q·inputPixelStep + channel_j] · gradient[(r·columns + q)·gradientStride + c]`
/// with `channel_j = min(j, count − 1)`.
@inline(__always)
func weightGradientTile(
    input: UnsafePointer<Float>, count: Int, inputRowStep: Int, inputPixelStep: Int,
    gradient: UnsafePointer<Float>, gradientStride: Int, rows: Int, columns: Int,
    partial: UnsafeMutablePointer<Float>, partialStride: Int
) {
    let c1 = min(1, count - 1), c2 = min(2, count - 1), c3 = min(3, count - 1)
    // Four SIMD8 accumulators are eight xmm registers: eight independent add chains.
    var a0 = V8(), a1 = V8(), a2 = V8(), a3 = V8()
    var g = gradient
    for r in 0..<rows {
        var x = input + r * inputRowStep
        for _ in 0..<columns {
            let gv = loadUnaligned(g)
            a0 += V8(repeating: x[0]) * gv
            a1 += V8(repeating: x[c1]) * gv
            a2 += V8(repeating: x[c2]) * gv
            a3 += V8(repeating: x[c3]) * gv
            x += inputPixelStep
            g += gradientStride
        }
    }
    let p = UnsafeMutableRawPointer(partial)
    let stride = partialStride * MemoryLayout<Float>.stride
    p.storeBytes(of: p.load(as: V8.self) + a0, as: V8.self)
    if count > 1 { p.storeBytes(of: p.load(fromByteOffset: stride, as: V8.self) + a1, toByteOffset: stride, as: V8.self) }
    if count > 2 { p.storeBytes(of: p.load(fromByteOffset: 2 * stride, as: V8.self) + a2, toByteOffset: 2 * stride, as: V8.self) }
    if count > 3 { p.storeBytes(of: p.load(fromByteOffset: 3 * stride, as: V8.self) + a3, toByteOffset: 3 * stride, as: V8.self) }
}
