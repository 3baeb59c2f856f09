import CBLAS

// Matrix products through OpenBLAS sgemm.

extension Tensor {
    /// Raw sgemm: op(a) · op(b) for 2-D float32 tensors, into a new tensor.
    static func gemm(_ a: Tensor, transposed ta: Bool, _ b: Tensor, transposed tb: Bool, _ name: String) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "\(name): needs 2-D tensors, got \(a.shape) and \(b.shape)")
        let m = ta ? a.shape[1] : a.shape[0], k = ta ? a.shape[0] : a.shape[1]
        let kb = tb ? b.shape[1] : b.shape[0], n = tb ? b.shape[0] : b.shape[1]
        precondition(k == kb, "\(name): inner dimensions differ: \(a.shape)\(ta ? "ᵀ" : "") · \(b.shape)\(tb ? "ᵀ" : "")")
        precondition(a.backend === b.backend, "\(name): operands on different backends (\(a.backend.name), \(b.backend.name))")
        if k == 0 { return Tensor.zeros([m, n], on: a.backend) }
        let out = Tensor(uninitializedShape: [m, n], on: a.backend)
        if m * n == 0 { return out }
        if let device = a.deviceKernels(for: .matmul) {
            device.gemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 1, a: a.storage, lda: a.shape[1],
                        b: b.storage, ldb: b.shape[1], beta: 0, c: out.storage, ldc: n)
            return out
        }
        GEMM.sgemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, a: a.storage.floats, lda: a.shape[1],
                   b: b.storage.floats, ldb: b.shape[1], beta: 0, c: out.storage.floats, ldc: n)
        return out
    }

    /// The matrix product op(a) · op(b), where op transposes when asked.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        let out = gemm(a, transposed: transposeA, b, transposed: transposeB, "matmul")
        return recorded(out, op: .matmul, inputs: [a, b]) { g, needs in
            let da: Tensor? = !needs[0] ? nil
                : transposeA ? gemm(b, transposed: transposeB, g, transposed: true, "matmul")
                : gemm(g, transposed: false, b, transposed: !transposeB, "matmul")
            let db: Tensor? = !needs[1] ? nil
                : transposeB ? gemm(g, transposed: true, a, transposed: transposeA, "matmul")
                : gemm(a, transposed: !transposeA, g, transposed: false, "matmul")
            return [da, db]
        }
    }

    /// A fully connected layer's map, y = x·Wᵀ + b, with PyTorch's weight layout [out, in].
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1],
                     "linear: input \(x.shape) does not match weight \(weight.shape)")
        let product = gemm(x, transposed: false, weight, transposed: true, "linear")
        let n = product.shape[0], o = product.shape[1]
        let onDevice = x.deviceKernels(for: .linear) != nil
        var out = product
        if let bias, onDevice {
            precondition(bias.shape == [o], "linear: bias \(bias.shape) does not match \(o) outputs")
            out = zipBroadcast(product, bias, "linear", .add, +)
        } else if let bias {
            precondition(bias.shape == [o], "linear: bias \(bias.shape) does not match \(o) outputs")
            let p = out.storage.floats, bp = bias.storage.floats
            for r in 0..<n { for c in 0..<o { p[r * o + c] += bp[c] } }
        }
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        return recorded(out, op: .linear, inputs: inputs) { g, needs in
            var grads: [Tensor?] = [
                needs[0] ? gemm(g, transposed: false, weight, transposed: false, "linear") : nil,
                needs[1] ? gemm(g, transposed: true, x, transposed: false, "linear") : nil,
            ]
            if needs.count > 2, onDevice {
                grads.append(needs[2] ? g.sum(axis: 0) : nil)
            } else if needs.count > 2 {
                let db = Tensor.zeros([o], on: g.backend)
                let gp = g.storage.floats, dp = db.storage.floats
                for r in 0..<n { for c in 0..<o { dp[c] += gp[r * o + c] } }
                grads.append(needs[2] ? db : nil)
            }
            return grads
        }
    }
}
