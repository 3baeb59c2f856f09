// Register-blocked inner loops shared by the convolution kernels. Without `-target-cpu` Swift's
// SIMD types lower to SSE: 16 xmm registers, separate multiplies and adds, and a broadcast costs a
// shuffle. The forward and backward-data tiles therefore take dot products along the contiguous
// channel axis (no broadcasts; one horizontal sum per output at the end), and the weight-gradient
// tile broadcasts inputs against 8 output-gradient channels.

typealias V4 = SIMD4<Float>
typealias V8 = SIMD8<Float>

/// Channels per vector in the weight-gradient tile: output channels are padded in groups of 8.
let channelBlock = 8
/// Output channels per dot-product tile; reduced channels are padded to a multiple of 4.
let dotChannels = 4

@inline(__always)
func roundUp(_ value: Int, _ multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }

@inline(__always)
func loadUnaligned(_ p: UnsafePointer<Float>) -> V8 {
    UnsafeRawPointer(p).loadUnaligned(as: V8.self)
}

@inline(__always)
func load4(_ p: UnsafePointer<Float>) -> V4 {
    UnsafeRawPointer(p).loadUnaligned(as: V4.self)
}

/// Stores all four lanes of `v` at `p` (unaligned).
@inline(__always)
func store4(_ v: V4, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V4.self)
}

/// Stores the first `lanes` lanes of `v` at `p` (all 4 with one unaligned store when `lanes == 4`).
@inline(__always)
func store(_ v: V4, _ p: UnsafeMutablePointer<Float>, lanes: Int) {
    if lanes == dotChannels {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V4.self)
    } else {
        for l in 0..<lanes { p[l] = v[l] }
    }
}

/// Horizontal sums of four vectors: `[a.sum(), b.sum(), c.sum(), d.sum()]`.
@inline(__always)
func sums(_ a: V4, _ b: V4, _ c: V4, _ d: V4) -> V4 {
    let ab = V4(a[0], b[0], a[2], b[2]) + V4(a[1], b[1], a[3], b[3])  // [a01, b01, a23, b23]
    let cd = V4(c[0], d[0], c[2], d[2]) + V4(c[1], d[1], c[3], d[3])
    return V4(ab[0], ab[1], cd[0], cd[1]) + V4(ab[2], ab[3], cd[2], cd[3])
}

/// Output pixels per dot-product tile: 2 pixels × 4 channels = 8 accumulators. Three pixels (12)
/// made LLVM spill an accumulator and shuffle registers every iteration under SSE's 16 registers.
let tilePixels = 2

@inline(__always)
func load4Aligned(_ p: UnsafePointer<Float>) -> V4 {
    UnsafeRawPointer(p).load(as: V4.self)
}

/// Computes up to two output pixels × up to four output channels as dot products and stores them.
///
/// For pixel `p < count` (input base `i_p`, output `o_p`) and channel `j < lanes`:
/// `o_p[j] = Σ_t Σ_{k < length} i_p[tapInput[t] + k] · weight[tapWeight[t] + j·rowStride + k]`.
/// `length`, `rowStride` and every `tapWeight` are multiples of 4 and `weight` is 16-byte aligned.
/// When `count == 1`, `i1` must still be a readable pointer (pass `i0`).
@inline(__always)
func dotTile(
    _ i0: UnsafePointer<Float>, _ i1: UnsafePointer<Float>,
    _ o0: UnsafeMutablePointer<Float>, _ o1: UnsafeMutablePointer<Float>, count: Int, lanes: Int,
    taps: Int, tapInput: UnsafePointer<Int>, tapWeight: UnsafePointer<Int>, length: Int,
    weight: UnsafePointer<Float>, rowStride: Int
) {
    var a0 = V4(), a1 = V4(), a2 = V4(), a3 = V4()
    var b0 = V4(), b1 = V4(), b2 = V4(), b3 = V4()
    // Missing channels of a partial tile repeat the last row; their sums are not stored.
    let r1 = min(1, lanes - 1) * rowStride, r2 = min(2, lanes - 1) * rowStride, r3 = min(3, lanes - 1) * rowStride
    for t in 0..<taps {
        let p0 = i0 + tapInput[t], p1 = i1 + tapInput[t]
        let w0 = weight + tapWeight[t], w1 = w0 + r1, w2 = w0 + r2, w3 = w0 + r3
        var k = 0
        while k < length {
            let x0 = load4(p0 + k), x1 = load4(p1 + k)
            let v0 = load4Aligned(w0 + k)
            a0 += x0 * v0
            b0 += x1 * v0
            let v1 = load4Aligned(w1 + k)
            a1 += x0 * v1
            b1 += x1 * v1
            let v2 = load4Aligned(w2 + k)
            a2 += x0 * v2
            b2 += x1 * v2
            let v3 = load4Aligned(w3 + k)
            a3 += x0 * v3
            b3 += x1 * v3
            k &+= 4
        }
    }
    store(sums(a0, a1, a2, a3), o0, lanes: lanes)
    if count > 1 { store(sums(b0, b1, b2, b3), o1, lanes: lanes) }
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
