import XCTest
@testable import Engine

/// Float64 batch norm (training mode), straight from the definition, for references and finite differences.
private func naiveBatchNorm(_ x: [Double], channels c: Int, gamma: [Double], beta: [Double], relu: Bool)
    -> (y: [Double], mean: [Double], variance: [Double]) {
    let rows = x.count / c
    var mean = [Double](repeating: 0, count: c), variance = [Double](repeating: 0, count: c)
    for r in 0..<rows { for j in 0..<c { mean[j] += x[r * c + j] / Double(rows) } }
    for r in 0..<rows { for j in 0..<c { variance[j] += pow(x[r * c + j] - mean[j], 2) / Double(rows) } }
    var y = x
    for r in 0..<rows {
        for j in 0..<c {
            let z = gamma[j] * (x[r * c + j] - mean[j]) / (variance[j] + 1e-5).squareRoot() + beta[j]
            y[r * c + j] = relu ? max(0, z) : z
        }
    }
    return (y, mean, variance)
}

/// Runs the training forward on copies of the arrays and returns (y, mean, inverseStd, runningMean, runningVariance).
private func trainingForward(_ x: [Float], channels c: Int, gamma: [Float], beta: [Float], runningMean: [Float],
                             runningVariance: [Float], relu: Bool, workspace: KernelWorkspace = KernelWorkspace(),
                             pool: ThreadPool) -> [[Float]] {
    let xb = FloatBuffer(x), gb = FloatBuffer(gamma), bb = FloatBuffer(beta)
    let rm = FloatBuffer(runningMean), rv = FloatBuffer(runningVariance)
    let y = FloatBuffer(count: x.count), mean = FloatBuffer(count: c), inv = FloatBuffer(count: c)
    withExtendedLifetime([xb, gb, bb]) {
        BatchNorm2D.trainingForward(input: xb.buffer, channels: c, gamma: gb.buffer, beta: bb.buffer,
                                    runningMean: rm.mutable, runningVariance: rv.mutable, fuseReLU: relu,
                                    output: y.mutable, savedMean: mean.mutable, savedInverseStd: inv.mutable,
                                    workspace: workspace, pool: pool)
    }
    return [y.array, mean.array, inv.array, rm.array, rv.array]
}

/// The training forward then backward (fused ReLU) on copies; returns dx, dγ and dβ concatenated.
private func trainingBackwardAll(_ x: [Float], _ dy: [Float], channels c: Int, gamma: [Float], pool: ThreadPool) -> [Float] {
    let beta = [Float](repeating: 0.1, count: c)
    let saved = trainingForward(x, channels: c, gamma: gamma, beta: beta, runningMean: [Float](repeating: 0, count: c),
                                runningVariance: [Float](repeating: 1, count: c), relu: true, pool: pool)
    let inputs = [FloatBuffer(x), FloatBuffer(dy), FloatBuffer(gamma), FloatBuffer(beta), FloatBuffer(saved[1]), FloatBuffer(saved[2])]
    let dx = FloatBuffer(count: x.count), dg = FloatBuffer(count: c), db = FloatBuffer(count: c)
    withExtendedLifetime(inputs) {
        BatchNorm2D.trainingBackward(input: inputs[0].buffer, outputGradient: inputs[1].buffer, channels: c,
                                     gamma: inputs[2].buffer, beta: inputs[3].buffer, savedMean: inputs[4].buffer,
                                     savedInverseStd: inputs[5].buffer, fuseReLU: true, inputGradient: dx.mutable,
                                     gammaGradient: dg.mutable, betaGradient: db.mutable, workspace: KernelWorkspace(), pool: pool)
    }
    return dx.array + dg.array + db.array
}

final class BatchNormKernelTests: XCTestCase {
    /// 5 channels run the scalar loops, 8 the four-channel vector loops.
    let channelCounts = [5, 8], rows = 2 * 3 * 7

    func testTrainingForwardMatchesNaiveAndUpdatesRunningStatistics() {
        for c in channelCounts {
            // An offset keeps the shifted one-pass variance honest.
            let x = kernelTestValues(rows * c, seed: 1).map { $0 * 3 + 10 }
            let gamma = kernelTestValues(c, seed: 2).map { $0 + 1.5 }, beta = kernelTestValues(c, seed: 3)
            for relu in [false, true] {
                let reference = naiveBatchNorm(x.map(Double.init), channels: c, gamma: gamma.map(Double.init),
                                               beta: beta.map(Double.init), relu: relu)
                withPools { pool in
                    let out = trainingForward(x, channels: c, gamma: gamma, beta: beta,
                                              runningMean: [Float](repeating: 0.5, count: c),
                                              runningVariance: [Float](repeating: 2, count: c), relu: relu, pool: pool)
                    assertClose(out[0], reference.y, rtol: 1e-4, atol: 1e-4, "output relu \(relu)")
                    assertClose(out[1], reference.mean, "saved mean")
                    assertClose(out[2], reference.variance.map { 1 / ($0 + 1e-5).squareRoot() }, "saved inverse std")
                    let m = Double(rows)
                    assertClose(out[3], reference.mean.map { 0.9 * 0.5 + 0.1 * $0 }, "running mean")
                    assertClose(out[4], reference.variance.map { 0.9 * 2 + 0.1 * $0 * m / (m - 1) },
                                "running variance (unbiased)")
                }
            }
        }
    }

    /// Kernel gradients against central differences of the Float64 forward, with and without ReLU.
    func testTrainingBackwardMatchesFiniteDifferences() {
        for c in channelCounts {
            let x = kernelTestValues(rows * c, seed: 4), r = kernelTestValues(rows * c, seed: 5)
            let gamma = kernelTestValues(c, seed: 6).map { $0 + 1.5 }, beta = kernelTestValues(c, seed: 7).map { $0 * 0.5 }
            for relu in [false, true] {
                func loss(_ xd: [Double], _ gd: [Double], _ bd: [Double]) -> Double {
                    let y = naiveBatchNorm(xd, channels: c, gamma: gd, beta: bd, relu: relu).y
                    return zip(y, r).reduce(0) { $0 + $1.0 * Double($1.1) }
                }
                let xd = x.map(Double.init), gd = gamma.map(Double.init), bd = beta.map(Double.init)
                let h = 1e-6
                func difference(_ f: (Double) -> Double) -> Double { (f(h) - f(-h)) / (2 * h) }
                let expectedDx = xd.indices.map { i in difference { e in var v = xd; v[i] += e; return loss(v, gd, bd) } }
                let expectedDg = gd.indices.map { i in difference { e in var v = gd; v[i] += e; return loss(xd, v, bd) } }
                let expectedDb = bd.indices.map { i in difference { e in var v = bd; v[i] += e; return loss(xd, gd, v) } }

                withPools { pool in
                    let ws = KernelWorkspace()
                    let saved = trainingForward(x, channels: c, gamma: gamma, beta: beta,
                                                runningMean: [Float](repeating: 0, count: c),
                                                runningVariance: [Float](repeating: 1, count: c), relu: relu,
                                                workspace: ws, pool: pool)
                    let inputs = [FloatBuffer(x), FloatBuffer(r), FloatBuffer(gamma), FloatBuffer(beta),
                                  FloatBuffer(saved[1]), FloatBuffer(saved[2])]
                    let dx = FloatBuffer(count: x.count), dg = FloatBuffer(count: c), db = FloatBuffer(count: c)
                    withExtendedLifetime(inputs) {
                        BatchNorm2D.trainingBackward(
                            input: inputs[0].buffer, outputGradient: inputs[1].buffer, channels: c,
                            gamma: inputs[2].buffer, beta: inputs[3].buffer, savedMean: inputs[4].buffer,
                            savedInverseStd: inputs[5].buffer, fuseReLU: relu, inputGradient: dx.mutable,
                            gammaGradient: dg.mutable, betaGradient: db.mutable, workspace: ws, pool: pool)
                    }
                    assertClose(dx.array, expectedDx, rtol: 1e-3, atol: 1e-4, "dx relu \(relu) threads \(pool.threadCount)")
                    assertClose(dg.array, expectedDg, rtol: 1e-3, atol: 1e-4, "dgamma relu \(relu)")
                    assertClose(db.array, expectedDb, rtol: 1e-3, atol: 1e-4, "dbeta relu \(relu)")
                }
            }
        }
    }

    /// Eval mode: the output and its gradients use the running statistics as constants.
    func testInferenceForwardAndBackward() {
        for c in channelCounts {
            let x = kernelTestValues(rows * c, seed: 8), dy = kernelTestValues(rows * c, seed: 9)
            let gamma = kernelTestValues(c, seed: 10), beta = kernelTestValues(c, seed: 11)
            let rm = kernelTestValues(c, seed: 12), rv = kernelTestValues(c, seed: 13).map { $0 + 1.2 }
            for relu in [false, true] {
                let inputs = [FloatBuffer(x), FloatBuffer(dy), FloatBuffer(gamma), FloatBuffer(beta),
                              FloatBuffer(rm), FloatBuffer(rv)]
                let y = FloatBuffer(count: x.count), dx = FloatBuffer(count: x.count)
                let dg = FloatBuffer(count: c), db = FloatBuffer(count: c)
                let ws = KernelWorkspace()
                withExtendedLifetime(inputs) {
                    BatchNorm2D.inferenceForward(
                        input: inputs[0].buffer, channels: c, gamma: inputs[2].buffer, beta: inputs[3].buffer,
                        runningMean: inputs[4].buffer, runningVariance: inputs[5].buffer, fuseReLU: relu,
                        output: y.mutable, workspace: ws)
                    BatchNorm2D.inferenceBackward(
                        input: inputs[0].buffer, outputGradient: inputs[1].buffer, channels: c, gamma: inputs[2].buffer,
                        beta: inputs[3].buffer, runningMean: inputs[4].buffer, runningVariance: inputs[5].buffer,
                        fuseReLU: relu, inputGradient: dx.mutable, gammaGradient: dg.mutable, betaGradient: db.mutable,
                        workspace: ws)
                }
                var ey = [Double](repeating: 0, count: x.count), edx = ey
                var edg = [Double](repeating: 0, count: c), edb = edg
                for i in x.indices {
                    let j = i % c, s = 1 / (Double(rv[j]) + 1e-5).squareRoot()
                    let xhat = (Double(x[i]) - Double(rm[j])) * s
                    let z = Double(gamma[j]) * xhat + Double(beta[j])
                    ey[i] = relu ? max(0, z) : z
                    let dz = relu && z <= 0 ? 0 : Double(dy[i])
                    edx[i] = Double(gamma[j]) * s * dz
                    edg[j] += dz * xhat
                    edb[j] += dz
                }
                assertClose(y.array, ey, "inference output relu \(relu)")
                assertClose(dx.array, edx, "inference dx relu \(relu)")
                assertClose(dg.array, edg, "inference dgamma relu \(relu)")
                assertClose(db.array, edb, "inference dbeta relu \(relu)")
            }
        }
    }

    /// Statistics of a large batch and the backward's sums are bit-identical across runs and across
    /// thread counts (1, 2, 3, 5: the reduction's chunks do not depend on the threads).
    func testStatisticsAndBackwardAreTheSameOnAnyThreadCount() {
        let c = 16, n = 5000
        let x = kernelTestValues(n * c, seed: 14), g = kernelTestValues(c, seed: 15)
        let dy = kernelTestValues(n * c, seed: 16)
        let zero = [Float](repeating: 0, count: c)
        var reference: [Float]? = nil
        withPools([1, 2, 3, 5]) { pool in
            let runs = (0..<2).map { _ in
                trainingForward(x, channels: c, gamma: g, beta: zero, runningMean: zero, runningVariance: zero,
                                relu: true, pool: pool).flatMap { $0 }
            }
            XCTAssertEqual(runs[0], runs[1])
            if let reference { XCTAssertEqual(runs[0], reference, "threads \(pool.threadCount)") } else { reference = runs[0] }
        }
        var backwardReference: [Float]? = nil
        withPools([1, 2, 3, 5]) { pool in
            let result = trainingBackwardAll(x, dy, channels: c, gamma: g, pool: pool)
            if let backwardReference {
                XCTAssertEqual(result, backwardReference, "backward, threads \(pool.threadCount)")
            } else {
                backwardReference = result
            }
        }
    }
}
