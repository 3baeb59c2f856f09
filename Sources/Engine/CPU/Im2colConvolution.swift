import CBLAS

/// Convolution kernels over NHWC activations and OIHW weights: im2col plus OpenBLAS sgemm,
/// in chunks of images so the column buffer stays small.
public enum Im2colConvolution {
    /// Images per im2col chunk.
    static let chunkImages = 16

    /// Packs OIHW weights into the [kh·kw·Cin, Cout] matrix that multiplies an im2col row.
    static func packWeights(_ g: ConvGeometry, _ w: UnsafePointer<Float>, into p: UnsafeMutablePointer<Float>) {
        let (ci, co, kh, kw) = (g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth)
        for o in 0..<co { for c in 0..<ci { for y in 0..<kh { for x in 0..<kw {
            p[((y * kw + x) * ci + c) * co + o] = w[((o * ci + c) * kh + y) * kw + x]
        } } } }
    }

    /// Writes the im2col rows of images `images` into `col` ([P, kh·kw·Cin], zeros for padding).
    static func im2col(_ g: ConvGeometry, _ x: UnsafePointer<Float>, images: Range<Int>, _ col: UnsafeMutablePointer<Float>) {
        let (h, w, ci, kh, kw, s, pd) = (g.height, g.width, g.inChannels, g.kernelHeight, g.kernelWidth, g.stride, g.padding)
        let (ho, wo) = (g.outHeight, g.outWidth), k = kh * kw * ci
        parallelChunks(images.count * ho, minimumChunk: 4) { rows in
            for r in rows {
                let n = images.lowerBound + r / ho, oy = r % ho
                for ox in 0..<wo {
                    let dst = col + (r * wo + ox) * k
                    for ky in 0..<kh {
                        let iy = oy * s - pd + ky
                        for kx in 0..<kw {
                            let ix = ox * s - pd + kx
                            let d = dst + (ky * kw + kx) * ci
                            if iy < 0 || iy >= h || ix < 0 || ix >= w { d.update(repeating: 0, count: ci) }
                            else { d.update(from: x + ((n * h + iy) * w + ix) * ci, count: ci) }
                        }
                    }
                }
            }
        }
    }

    /// Adds the im2col rows `col` of images `images` back into `dx` (the adjoint of im2col).
    static func col2im(_ g: ConvGeometry, _ col: UnsafePointer<Float>, images: Range<Int>, _ dx: UnsafeMutablePointer<Float>) {
        let (h, w, ci, kh, kw, s, pd) = (g.height, g.width, g.inChannels, g.kernelHeight, g.kernelWidth, g.stride, g.padding)
        let (ho, wo) = (g.outHeight, g.outWidth), k = kh * kw * ci
        parallelChunks(images.count, minimumChunk: 1) { imgs in
            for i in imgs {
                let n = images.lowerBound + i
                for oy in 0..<ho { for ox in 0..<wo {
                    let src = col + ((i * ho + oy) * wo + ox) * k
                    for ky in 0..<kh {
                        let iy = oy * s - pd + ky
                        guard iy >= 0 && iy < h else { continue }
                        for kx in 0..<kw {
                            let ix = ox * s - pd + kx
                            guard ix >= 0 && ix < w else { continue }
                            let d = dx + ((n * h + iy) * w + ix) * ci, sp = src + (ky * kw + kx) * ci
                            for c in 0..<ci { d[c] += sp[c] }
                        }
                    }
                } }
            }
        }
    }

    /// output[N, Ho, Wo, Cout] = conv(input, weight).
    public static func forward(_ g: ConvGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let k = g.kernelHeight * g.kernelWidth * g.inChannels, p = g.outHeight * g.outWidth
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: k * g.outChannels)
        defer { packed.deallocate() }
        packWeights(g, weight, into: packed)
        let col = UnsafeMutablePointer<Float>.allocate(capacity: chunkImages * p * k)
        defer { col.deallocate() }
        for start in stride(from: 0, to: g.batch, by: chunkImages) {
            let images = start..<Swift.min(g.batch, start + chunkImages)
            im2col(g, input, images: images, col)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(images.count * p), Int32(g.outChannels), Int32(k),
                        1, col, Int32(k), packed, Int32(g.outChannels), 0, output + start * p * g.outChannels, Int32(g.outChannels))
        }
    }

    /// gradInput = the adjoint of the convolution applied to gradOutput (overwrites).
    public static func backwardData(_ g: ConvGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>) {
        let k = g.kernelHeight * g.kernelWidth * g.inChannels, p = g.outHeight * g.outWidth
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: k * g.outChannels)
        defer { packed.deallocate() }
        packWeights(g, weight, into: packed)
        let col = UnsafeMutablePointer<Float>.allocate(capacity: chunkImages * p * k)
        defer { col.deallocate() }
        gradInput.update(repeating: 0, count: g.batch * g.height * g.width * g.inChannels)
        for start in stride(from: 0, to: g.batch, by: chunkImages) {
            let images = start..<Swift.min(g.batch, start + chunkImages)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(images.count * p), Int32(k), Int32(g.outChannels),
                        1, gradOutput + start * p * g.outChannels, Int32(g.outChannels), packed, Int32(g.outChannels), 0, col, Int32(k))
            col2im(g, col, images: images, gradInput)
        }
    }

    /// gradWeight (OIHW) = the weight gradient of the convolution (overwrites).
    public static func backwardWeight(_ g: ConvGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>, gradWeight: UnsafeMutablePointer<Float>) {
        let (ci, co, kh, kw) = (g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth)
        let k = kh * kw * ci, p = g.outHeight * g.outWidth
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: k * co)
        defer { packed.deallocate() }
        let col = UnsafeMutablePointer<Float>.allocate(capacity: chunkImages * p * k)
        defer { col.deallocate() }
        for start in stride(from: 0, to: g.batch, by: chunkImages) {
            let images = start..<Swift.min(g.batch, start + chunkImages)
            im2col(g, input, images: images, col)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(k), Int32(co), Int32(images.count * p),
                        1, col, Int32(k), gradOutput + start * p * co, Int32(co), start == 0 ? 0 : 1, packed, Int32(co))
        }
        for o in 0..<co { for c in 0..<ci { for y in 0..<kh { for x in 0..<kw {
            gradWeight[((o * ci + c) * kh + y) * kw + x] = packed[((y * kw + x) * ci + c) * co + o]
        } } } }
    }
}
