import Foundation

// Softmax, log-softmax, cross-entropy and L2 normalisation, all along the last axis.

extension Tensor {
    /// (rows, columns) of a tensor seen as a matrix whose rows are its last axis.
    func lastAxisRows(_ name: String) -> (rows: Int, columns: Int) {
        precondition(rank >= 1 && dtype == .float32, "\(name): needs a float32 tensor of rank ≥ 1, got \(dtype) \(shape)")
        let c = shape[rank - 1]
        return (c == 0 ? 0 : count / c, c)
    }

    /// log Σ_j exp(x_j) of one row, with the row maximum subtracted for stability.
    @inline(__always)
    static func logSumExp(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var m = -Float.infinity
        for j in 0..<count { m = Swift.max(m, x[j]) }
        var s: Float = 0
        for j in 0..<count { s += Foundation.exp(x[j] - m) }
        return m + Foundation.log(s)
    }

    /// Softmax along the last axis (row maximum subtracted for stability).
    public func softmax() -> Tensor {
        let (rows, cols) = lastAxisRows("softmax")
        let out = Tensor(uninitializedShape: shape, on: backend)
        if let device = deviceKernels(for: .softmax) { return deviceSoftmax(device, rows, cols, logarithmic: false, into: out) }
        let x = storage.floats, y = out.storage.floats
        parallelChunks(rows, minimumChunk: 64) { r in
            for row in r {
                let xr = x + row * cols, yr = y + row * cols
                let lse = Tensor.logSumExp(xr, cols)
                for j in 0..<cols { yr[j] = Foundation.exp(xr[j] - lse) }
            }
        }
        return Tensor.recorded(out, op: .softmax, inputs: [self]) { g, _ in
            let y = out.storage.floats
            let gx = Tensor(uninitializedShape: g.shape, on: g.backend)
            let gp = g.storage.floats, gxp = gx.storage.floats
            for row in 0..<rows {
                var dot: Float = 0
                for j in 0..<cols { dot += gp[row * cols + j] * y[row * cols + j] }
                for j in 0..<cols { gxp[row * cols + j] = y[row * cols + j] * (gp[row * cols + j] - dot) }
            }
            return [gx]
        }
    }

    /// Log-softmax along the last axis.
    public func logSoftmax() -> Tensor {
        let (rows, cols) = lastAxisRows("logSoftmax")
        let out = Tensor(uninitializedShape: shape, on: backend)
        if let device = deviceKernels(for: .logSoftmax) { return deviceSoftmax(device, rows, cols, logarithmic: true, into: out) }
        let x = storage.floats, y = out.storage.floats
        parallelChunks(rows, minimumChunk: 64) { r in
            for row in r {
                let xr = x + row * cols, yr = y + row * cols
                let lse = Tensor.logSumExp(xr, cols)
                for j in 0..<cols { yr[j] = xr[j] - lse }
            }
        }
        return Tensor.recorded(out, op: .logSoftmax, inputs: [self]) { g, _ in
            let y = out.storage.floats
            let gx = Tensor(uninitializedShape: g.shape, on: g.backend)
            let gp = g.storage.floats, gxp = gx.storage.floats
            for row in 0..<rows {
                var s: Float = 0
                for j in 0..<cols { s += gp[row * cols + j] }
                for j in 0..<cols { gxp[row * cols + j] = gp[row * cols + j] - Foundation.exp(y[row * cols + j]) * s }
            }
            return [gx]
        }
    }

    /// Mean cross-entropy of logits [N, C] against Int32 labels [N]. With `classWeights` [C] it
    /// is PyTorch's weighted mean: Σ w_{y_i}·ℓ_i / Σ w_{y_i}.
    public static func crossEntropy(logits: Tensor, labels: Tensor, classWeights: Tensor? = nil) -> Tensor {
        precondition(logits.rank == 2 && labels.dtype == .int32 && labels.shape == [logits.shape[0]],
                     "crossEntropy: logits \(logits.shape) and labels \(labels.dtype) \(labels.shape) do not match")
        let (n, c) = (logits.shape[0], logits.shape[1])
        let labelValues = labels.int32Scalars
        for (i, l) in labelValues.enumerated() {
            precondition(l >= 0 && Int(l) < c, "crossEntropy: label \(l) of row \(i) outside 0..<\(c)")
        }
        let w: [Float] = classWeights.map { precondition($0.shape == [c], "crossEntropy: weights \($0.shape) for \(c) classes"); return $0.scalars }
            ?? [Float](repeating: 1, count: c)
        let logp = GradMode.withoutGradients { logits.logSoftmax() }
        if let device = logits.deviceKernels(for: .crossEntropy) {
            return deviceCrossEntropy(device, logits: logits, logProbabilities: logp, labels: labelValues, weights: w)
        }
        let lp = logp.storage.floats
        var total: Double = 0, weightSum: Double = 0
        for i in 0..<n {
            let y = Int(labelValues[i])
            total -= Double(w[y]) * Double(lp[i * c + y])
            weightSum += Double(w[y])
        }
        let out = Tensor(scalar: Float(total / Swift.max(weightSum, .leastNonzeroMagnitude)), on: logits.backend)
        return recorded(out, op: .crossEntropy, inputs: [logits]) { g, _ in
            let lp = logp.storage.floats
            let gx = Tensor(uninitializedShape: [n, c], on: g.backend)
            let gxp = gx.storage.floats
            let scale = g.item / Float(Swift.max(weightSum, .leastNonzeroMagnitude))
            for i in 0..<n {
                let y = Int(labelValues[i]), wi = w[y] * scale
                for j in 0..<c { gxp[i * c + j] = wi * (Foundation.exp(lp[i * c + j]) - (j == y ? 1 : 0)) }
            }
            return [gx]
        }
    }

    /// x / max(‖x‖₂, ε) along the last axis, as PyTorch's `F.normalize(x, dim=-1)`.
    public func l2Normalized(epsilon: Float = 1e-12) -> Tensor {
        let (rows, cols) = lastAxisRows("l2Normalized")
        let out = Tensor(uninitializedShape: shape, on: backend)
        if let device = deviceKernels(for: .l2Normalize) {
            let norms = Tensor(uninitializedShape: [rows], on: backend)
            device.l2Normalize(storage, rows: rows, cols: cols, epsilon: epsilon, into: out.storage, norms: norms.storage)
            return Tensor.recorded(out, op: .l2Normalize, inputs: [self]) { g, _ in
                let gx = Tensor(uninitializedShape: g.shape, on: g.backend)
                device.l2NormalizeBackward(g.storage, output: out.storage, norms: norms.storage, rows: rows, cols: cols,
                                           epsilon: epsilon, into: gx.storage)
                return [gx]
            }
        }
        var norms = [Float](repeating: 0, count: rows)
        let x = storage.floats, y = out.storage.floats
        for row in 0..<rows {
            var s: Float = 0
            for j in 0..<cols { s += x[row * cols + j] * x[row * cols + j] }
            let nrm = Swift.max(s.squareRoot(), epsilon)
            norms[row] = nrm
            for j in 0..<cols { y[row * cols + j] = x[row * cols + j] / nrm }
        }
        let clipped = norms.map { $0 <= epsilon }
        return Tensor.recorded(out, op: .l2Normalize, inputs: [self]) { g, _ in
            let y = out.storage.floats
            let gx = Tensor(uninitializedShape: g.shape, on: g.backend)
            let gp = g.storage.floats, gxp = gx.storage.floats
            for row in 0..<rows {
                let nrm = norms[row]
                if clipped[row] { for j in 0..<cols { gxp[row * cols + j] = gp[row * cols + j] / nrm }; continue }
                var dot: Float = 0
                for j in 0..<cols { dot += gp[row * cols + j] * y[row * cols + j] }
                for j in 0..<cols { gxp[row * cols + j] = (gp[row * cols + j] - y[row * cols + j] * dot) / nrm }
            }
            return [gx]
        }
    }
}

extension Tensor {
    /// Softmax or log-softmax of the rows on a device, with its pullback.
    private func deviceSoftmax(_ device: any DeviceKernels, _ rows: Int, _ cols: Int, logarithmic: Bool, into out: Tensor) -> Tensor {
        device.softmax(storage, rows: rows, cols: cols, logarithmic: logarithmic, into: out.storage)
        return Tensor.recorded(out, op: logarithmic ? .logSoftmax : .softmax, inputs: [self]) { g, _ in
            let gx = Tensor(uninitializedShape: g.shape, on: g.backend)
            device.softmaxBackward(g.storage, output: out.storage, rows: rows, cols: cols, logarithmic: logarithmic, into: gx.storage)
            return [gx]
        }
    }

    /// Cross-entropy on a device: the labels (host values) and each row's weight over the weight
    /// sum go up once per call (two small uploads); the loss is the sum of the rows' terms.
    private static func deviceCrossEntropy(_ device: any DeviceKernels, logits: Tensor, logProbabilities: Tensor,
                                           labels: [Int32], weights: [Float]) -> Tensor {
        let (n, c) = (logits.shape[0], logits.shape[1])
        var weightSum: Double = 0
        for label in labels { weightSum += Double(weights[Int(label)]) }
        let normaliser = Float(Swift.max(weightSum, .leastNonzeroMagnitude))
        let coefficients = Tensor(labels.map { weights[Int($0)] / normaliser }, shape: [n], on: logits.backend)
        let deviceLabels = Tensor(int32: labels, shape: [n], on: logits.backend)
        let terms = Tensor(uninitializedShape: [n], on: logits.backend)
        device.crossEntropyTerms(logProbabilities.storage, labels: deviceLabels.storage, coefficients: coefficients.storage,
                                 rows: n, cols: c, into: terms.storage)
        let out = withoutGradients { terms.sum() }
        return recorded(out, op: .crossEntropy, inputs: [logits]) { g, _ in
            let gx = Tensor(uninitializedShape: [n, c], on: g.backend)
            device.crossEntropyBackward(logProbabilities.storage, labels: deviceLabels.storage, coefficients: coefficients.storage,
                                        upstream: g.storage, rows: n, cols: c, into: gx.storage)
            return [gx]
        }
    }
}
