extension BatchNorm2D {
    /// Training-mode backward (batch statistics): with `x̂ = (x − μ)·invstd` and `dz = dy` masked by
    /// the fused ReLU (`dz = 0` where the pre-activation was ≤ 0),
    /// `dβ = Σ dz`, `dγ = Σ dz·x̂`, `dx = γ·invstd·(dz − dβ/M − x̂·dγ/M)` with M = rows.
    ///
    /// - Parameters:
    ///   - input: the forward input, `rows × channels` floats.
    ///   - outputGradient: `rows × channels` floats (gradient with respect to the ReLU output when fused).
    ///   - gamma, beta: the forward's parameters (`beta` is needed only to rebuild the ReLU mask).
    ///   - savedMean, savedInverseStd: what `trainingForward` saved.
    ///   - inputGradient: `rows × channels` floats, overwritten.
    ///   - gammaGradient, betaGradient: `channels` floats each, overwritten.
    public static func trainingBackward(
        input: UnsafeBufferPointer<Float>, outputGradient: UnsafeBufferPointer<Float>, channels: Int,
        gamma: UnsafeBufferPointer<Float>, beta: UnsafeBufferPointer<Float>,
        savedMean: UnsafeBufferPointer<Float>, savedInverseStd: UnsafeBufferPointer<Float>, fuseReLU: Bool,
        inputGradient: UnsafeMutableBufferPointer<Float>, gammaGradient: UnsafeMutableBufferPointer<Float>,
        betaGradient: UnsafeMutableBufferPointer<Float>, workspace: KernelWorkspace, pool: ThreadPool = .shared,
        sync: BatchNormSync? = nil
    ) {
        backward("BatchNorm2D.trainingBackward", training: true, input: input, outputGradient: outputGradient,
                 channels: channels, gamma: gamma, beta: beta, mean: savedMean, inverseStd: savedInverseStd,
                 fuseReLU: fuseReLU, inputGradient: inputGradient, gammaGradient: gammaGradient,
                 betaGradient: betaGradient, workspace: workspace, pool: pool, sync: sync)
    }

    /// Evaluation-mode backward (running statistics are constants): `dx = γ·invstd·dz`,
    /// `dγ = Σ dz·x̂`, `dβ = Σ dz`, with `invstd = 1/√(r_σ² + ε)`.
    public static func inferenceBackward(
        input: UnsafeBufferPointer<Float>, outputGradient: UnsafeBufferPointer<Float>, channels: Int,
        gamma: UnsafeBufferPointer<Float>, beta: UnsafeBufferPointer<Float>,
        runningMean: UnsafeBufferPointer<Float>, runningVariance: UnsafeBufferPointer<Float>,
        epsilon: Float = 1e-5, fuseReLU: Bool,
        inputGradient: UnsafeMutableBufferPointer<Float>, gammaGradient: UnsafeMutableBufferPointer<Float>,
        betaGradient: UnsafeMutableBufferPointer<Float>, workspace: KernelWorkspace, pool: ThreadPool = .shared
    ) {
        precondition(runningVariance.count == channels,
                     "BatchNorm2D.inferenceBackward: runningVariance has \(runningVariance.count) floats, expected \(channels)")
        // Kept outside `workspace`: `backward` uses all of the workspace's buffers.
        var inverseStd = [Float](repeating: 0, count: channels)
        for j in 0..<channels { inverseStd[j] = 1 / (runningVariance[j] + epsilon).squareRoot() }
        inverseStd.withUnsafeBufferPointer { s in
            backward("BatchNorm2D.inferenceBackward", training: false, input: input, outputGradient: outputGradient,
                     channels: channels, gamma: gamma, beta: beta, mean: runningMean, inverseStd: s,
                     fuseReLU: fuseReLU, inputGradient: inputGradient, gammaGradient: gammaGradient,
                     betaGradient: betaGradient, workspace: workspace, pool: pool)
        }
    }

    private static func backward(
        _ op: String, training: Bool, input: UnsafeBufferPointer<Float>, outputGradient: UnsafeBufferPointer<Float>,
        channels c: Int, gamma: UnsafeBufferPointer<Float>, beta: UnsafeBufferPointer<Float>,
        mean: UnsafeBufferPointer<Float>, inverseStd: UnsafeBufferPointer<Float>, fuseReLU: Bool,
        inputGradient: UnsafeMutableBufferPointer<Float>, gammaGradient: UnsafeMutableBufferPointer<Float>,
        betaGradient: UnsafeMutableBufferPointer<Float>, workspace: KernelWorkspace, pool: ThreadPool,
        sync: BatchNormSync? = nil
    ) {
        checkShapes(op, input.count, c, inputGradient.count,
                    [gamma.count, beta.count, mean.count, inverseStd.count, gammaGradient.count, betaGradient.count])
        precondition(outputGradient.count == input.count,
                     "\(op): outputGradient has \(outputGradient.count) floats, input has \(input.count)")
        let rows = input.count / c
        guard rows > 0 else {
            for j in 0..<c { gammaGradient[j] = 0; betaGradient[j] = 0 }
            return
        }
        let x = input.baseAddress!, dy = outputGradient.baseAddress!, dx = inputGradient.baseAddress!
        let mu = mean.baseAddress!, s = inverseStd.baseAddress!
        // ReLU mask coefficients, computed exactly as `normalise` does.
        let coefficients = workspace.packed.reserve(5 * c)
        for j in 0..<c {
            coefficients[j] = gamma[j] * s[j]
            coefficients[c + j] = beta[j] - mu[j] * coefficients[j]
        }
        let scale = UnsafePointer(coefficients), offset = UnsafePointer(coefficients + c)

        let totals = pairedChannelSums(rows: rows, channels: c, workspace: workspace, pool: pool) { range, block in
            if c % 4 == 0 {
                // The same arithmetic four channels at a time, with the ReLU mask as a blend:
                // a per-element branch on a random mask mispredicts half the time.
                for r in range {
                    let xr = x + r * c, gr = dy + r * c
                    for j in stride(from: 0, to: c, by: 4) {
                        let xv = load4(xr + j)
                        var dz = load4(gr + j)
                        if fuseReLU { dz.replace(with: 0, where: xv * load4(scale + j) + load4(offset + j) .<= 0) }
                        store4(load4(block + j) + dz, block + j)
                        store4(load4(block + c + j) + dz * ((xv - load4(mu + j)) * load4(s + j)), block + c + j)
                    }
                }
            } else {
                for r in range {
                    let xr = x + r * c, gr = dy + r * c
                    for j in 0..<c {
                        let xv = xr[j]
                        let dz = fuseReLU && xv * scale[j] + offset[j] <= 0 ? 0 : gr[j]
                        block[j] += dz
                        block[c + j] += dz * ((xv - mu[j]) * s[j])
                    }
                }
            }
        }
        // Per channel: dx = a·(dz − dβ/M − x̂·dγ/M) with a = γ·invstd. With a sync group, M and the
        // two sums in dx are the global batch's; dβ and dγ stay this rank's part (the parameter
        // gradients are summed over ranks afterwards).
        let global = sync.map { $0.sum([Double(rows)] + (0..<(2 * c)).map { totals[$0] }) }
        let m = global?[0] ?? Double(rows)
        let a = coefficients + 2 * c, bShift = coefficients + 3 * c, eShift = coefficients + 4 * c
        for j in 0..<c {
            let sumDz = totals[j], sumDzXhat = totals[c + j]
            betaGradient[j] = Float(sumDz)
            gammaGradient[j] = Float(sumDzXhat)
            a[j] = gamma[j] * s[j]
            bShift[j] = Float((global?[1 + j] ?? sumDz) / m)
            eShift[j] = Float((global?[1 + c + j] ?? sumDzXhat) / m)
        }
        let meanDz = UnsafePointer(bShift), scaleIn = UnsafePointer(a)
        let meanDzXhat = UnsafePointer(eShift)
        pool.parallelFor(count: rows) { range in
            if c % 4 == 0 {
                for r in range {
                    let xr = x + r * c, gr = dy + r * c, dr = dx + r * c
                    for j in stride(from: 0, to: c, by: 4) {
                        let xv = load4(xr + j)
                        var dz = load4(gr + j)
                        if fuseReLU { dz.replace(with: 0, where: xv * load4(scale + j) + load4(offset + j) .<= 0) }
                        if training {
                            let xhat = (xv - load4(mu + j)) * load4(s + j)
                            store4(load4(scaleIn + j) * (dz - load4(meanDz + j) - xhat * load4(meanDzXhat + j)), dr + j)
                        } else {
                            store4(load4(scaleIn + j) * dz, dr + j)
                        }
                    }
                }
                return
            }
            for r in range {
                let xr = x + r * c, gr = dy + r * c, dr = dx + r * c
                for j in 0..<c {
                    let xv = xr[j]
                    let dz = fuseReLU && xv * scale[j] + offset[j] <= 0 ? 0 : gr[j]
                    if training {
                        let xhat = (xv - mu[j]) * s[j]
                        dr[j] = scaleIn[j] * (dz - meanDz[j] - xhat * meanDzXhat[j])
                    } else {
                        dr[j] = scaleIn[j] * dz
                    }
                }
            }
        }
    }
}
