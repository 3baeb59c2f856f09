import Engine
import Foundation

/// `sbcl-bench conv [--batch N] [--threads T] [--repeats R] [--json]`: times the direct convolution
/// kernels on ResNet-32's layer shapes (forward, backward-data, backward-weight) and prints GFLOP/s
/// per shape and over the whole network, each layer weighted by how often ResNet-32 uses it, and
/// the network's fraction of the machine's peak (`BenchMachine.peakGFLOPS`).
func runConvBench(batch: Int, threads: Int?, repeats: Int, json: Bool, kernels: ConvKernels) throws {
    let threads = threads ?? ThreadPool.shared.threadCount
    ThreadPool.shared.threadCount = threads

    // (name, geometry, uses in ResNet-32); the first layer's backward-data is never needed.
    func conv(_ size: Int, _ cin: Int, _ cout: Int, stride: Int) -> Conv2DGeometry {
        Conv2DGeometry(batch: batch, inputHeight: size, inputWidth: size, inputChannels: cin,
                       outputChannels: cout, kernelSize: 3, stride: stride, padding: 1)
    }
    let shapes: [(String, Conv2DGeometry, Int)] = [
        ("conv1_3to16_32x32", conv(32, 3, 16, stride: 1), 1),
        ("3x3_16to16_32x32", conv(32, 16, 16, stride: 1), 10),
        ("3x3_16to32_s2", conv(32, 16, 32, stride: 2), 1),
        ("3x3_32to32_16x16", conv(16, 32, 32, stride: 1), 9),
        ("3x3_32to64_s2", conv(16, 32, 64, stride: 2), 1),
        ("3x3_64to64_8x8", conv(8, 64, 64, stride: 1), 9),
    ]

    // `ms` is wall time; `cpuMs` is the process's CPU time, so flops / cpuMs is the speed per busy
    // core, which stays meaningful when other jobs share the machine.
    struct Row { var name: String; var geometry: Conv2DGeometry; var uses: Int; var ms: [Double]; var cpuMs: [Double] }
    var rows: [Row] = []
    let workspace = KernelWorkspace()
    for (name, g, uses) in shapes {
        var x = [Float](repeating: 0, count: g.inputCount), w = [Float](repeating: 0, count: g.weightCount)
        for i in x.indices { x[i] = Float((i * 7919) % 2001) / 1000 - 1 }
        for i in w.indices { w[i] = Float((i * 104_729) % 2001) / 10_000 - 0.1 }
        var y = [Float](repeating: 0, count: g.outputCount), dx = [Float](repeating: 0, count: g.inputCount)
        var dw = [Float](repeating: 0, count: g.weightCount)
        var times: [[Double]] = [[], [], []], cpuTimes: [[Double]] = [[], [], []]
        x.withUnsafeBufferPointer { xb in w.withUnsafeBufferPointer { wb in
            y.withUnsafeMutableBufferPointer { yb in dx.withUnsafeMutableBufferPointer { dxb in
                dw.withUnsafeMutableBufferPointer { dwb in
                    let dyb = UnsafeBufferPointer(yb)
                    for r in 0...repeats {  // the first round warms up and is not counted
                        let t0 = DispatchTime.now().uptimeNanoseconds, c0 = cpuNanoseconds()
                        Conv2D.forward(g, input: xb, weight: wb, output: yb, kernels: kernels, workspace: workspace)
                        let t1 = DispatchTime.now().uptimeNanoseconds, c1 = cpuNanoseconds()
                        Conv2D.backwardData(g, outputGradient: dyb, weight: wb, inputGradient: dxb, kernels: kernels, workspace: workspace)
                        let t2 = DispatchTime.now().uptimeNanoseconds, c2 = cpuNanoseconds()
                        Conv2D.backwardWeight(g, input: xb, outputGradient: dyb, weightGradient: dwb, kernels: kernels, workspace: workspace)
                        let t3 = DispatchTime.now().uptimeNanoseconds, c3 = cpuNanoseconds()
                        if r > 0 {
                            times[0].append(Double(t1 - t0) / 1e6)
                            times[1].append(Double(t2 - t1) / 1e6)
                            times[2].append(Double(t3 - t2) / 1e6)
                            cpuTimes[0].append(Double(c1 - c0) / 1e6)
                            cpuTimes[1].append(Double(c2 - c1) / 1e6)
                            cpuTimes[2].append(Double(c3 - c2) / 1e6)
                        }
                    }
                }
            } }
        } }
        rows.append(Row(name: name, geometry: g, uses: uses, ms: times.map(median), cpuMs: cpuTimes.map(median)))
    }

    let passes = ["forward", "backward_data", "backward_weight"]
    func gflops(_ flops: Double, _ ms: Double) -> Double { flops / ms / 1e6 }
    // Network totals: every layer weighted by its uses; conv1's backward-data is left out.
    var totalFlops = [0.0, 0.0, 0.0], totalMs = [0.0, 0.0, 0.0], totalCpuMs = [0.0, 0.0, 0.0]
    for row in rows {
        for p in 0..<3 where !(p == 1 && row.name.hasPrefix("conv1")) {
            totalFlops[p] += row.geometry.flops * Double(row.uses)
            totalMs[p] += row.ms[p] * Double(row.uses)
            totalCpuMs[p] += row.cpuMs[p] * Double(row.uses)
        }
    }
    let allFlops = totalFlops.reduce(0, +), allMs = totalMs.reduce(0, +), allCpuMs = totalCpuMs.reduce(0, +)
    // The whole network's speed against the peak of `threads` cores at this kernel set's width.
    let peak = BenchMachine.peakGFLOPS(threads: threads)
    let fraction = peak.map { gflops(allFlops, allMs) / $0 }
    if json {
        let shapesJSON = rows.map { row in
            let fields = (0..<3).map { p in
                "\"\(passes[p])_ms\": \(fmt(row.ms[p])), \"\(passes[p])_gflops\": \(fmt(gflops(row.geometry.flops, row.ms[p])))"
            }.joined(separator: ", ")
            return "{\"name\": \"\(row.name)\", \"geometry\": \"\(row.geometry)\", \"uses\": \(row.uses), \(fields)}"
        }.joined(separator: ", ")
        let totals = (0..<3).map {
            "\"\(passes[$0])_gflops\": \(fmt(gflops(totalFlops[$0], totalMs[$0]))), "
                + "\"\(passes[$0])_gflops_per_core\": \(fmt(gflops(totalFlops[$0], totalCpuMs[$0])))"
        }.joined(separator: ", ")
        var peakJSON = ""
        if let peak, let fraction {
            peakJSON = "\"peak_gflops\": \(fmt(peak)), \"fraction_of_peak\": \(String(format: "%.3f", fraction)), "
        }
        print("{\"bench\": \"conv\", \"kernel_set\": \"\(BenchMachine.kernelSet)\", \"cpu\": \(JSONText.quoted(BenchMachine.cpu)), "
              + "\"batch\": \(batch), \"threads\": \(threads), \"repeats\": \(repeats), \(peakJSON)"
              + "\"shapes\": [\(shapesJSON)], \"resnet32\": {\(totals), \"gflops\": \(fmt(gflops(allFlops, allMs))), "
              + "\"gflops_per_core\": \(fmt(gflops(allFlops, allCpuMs))), \"ms\": \(fmt(allMs))}}")
    } else {
        print("conv bench: batch \(batch), \(threads) threads, median of \(repeats), \(BenchMachine.summary); GFLOP/s (ms)")
        for row in rows {
            let cells = (0..<3).map { p in "\(passes[p]) \(fmt(gflops(row.geometry.flops, row.ms[p]))) (\(fmt(row.ms[p])))" }
            print("  \(row.name.padding(toLength: 20, withPad: " ", startingAt: 0)) ×\(row.uses)  " + cells.joined(separator: "  "))
        }
        let cells = (0..<3).map { "\(passes[$0]) \(fmt(gflops(totalFlops[$0], totalMs[$0])))" }
        print("  ResNet-32 convs: " + cells.joined(separator: "  ")
              + "  all \(fmt(gflops(allFlops, allMs))) GFLOP/s in \(fmt(allMs)) ms")
        let perCore = (0..<3).map { "\(passes[$0]) \(fmt(gflops(totalFlops[$0], totalCpuMs[$0])))" }
        print("  per busy core (flops / CPU time): " + perCore.joined(separator: "  ")
              + "  all \(fmt(gflops(allFlops, allCpuMs)))")
        if let fraction, let peak = BenchMachine.peakDescription(threads: threads) {
            print("  peak \(peak); the network's convs reach \(String(format: "%.1f", 100 * fraction))% of it"
                  + " (flops of the direct convolution: Winograd's layers do 2.25× fewer, so this can pass 100%)")
        }
    }
}


private func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    return s.isEmpty ? 0 : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
}

/// CPU time used by this process so far (all threads, spinning workers included).
private func cpuNanoseconds() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

private func fmt(_ v: Double) -> String { String(format: "%.2f", v) }
