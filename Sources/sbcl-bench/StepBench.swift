import Foundation
import Engine

/// Options shared by the model benchmarks.
struct ModelBenchOptions {
    var batch = 128, size = 32, channels = 3, steps = 5, warmup = 2, threads = ProcessInfo.processInfo.activeProcessorCount
    var json = false

    init(_ arguments: [String], defaultBatch: Int) throws {
        batch = defaultBatch
        var i = 0
        func value() throws -> Int {
            i += 1
            guard i < arguments.count, let v = Int(arguments[i]), v > 0 else {
                throw BenchError.usage("\(arguments[i - 1]) needs a positive integer")
            }
            return v
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--batch": batch = try value()
            case "--size": size = try value()
            case "--channels": channels = try value()
            case "--steps": steps = try value()
            case "--warmup": warmup = try value()
            case "--threads": threads = try value()
            case "--json": json = true
            default: throw BenchError.usage("unknown option \(arguments[i]); expected --batch --size --channels --steps --warmup --threads --json")
            }
            i += 1
        }
    }
}

enum BenchError: Error, CustomStringConvertible {
    case usage(String)
    var description: String { switch self { case .usage(let s): return s } }
}

/// Prints a result as one JSON line (or a readable line), with the kernel set and CPU model
/// (`BenchMachine.fields`) after the first field (the bench's name).
func report(_ fields: [(String, Any)], json: Bool) {
    let fields = Array(fields.prefix(1)) + BenchMachine.fields + fields.dropFirst()
    if json {
        let body = fields.map { key, value -> String in
            switch value {
            case let s as String: return "\"\(key)\":\(JSONText.quoted(s))"
            case let d as Double: return "\"\(key)\":\(String(format: "%.3f", d))"
            default: return "\"\(key)\":\(value)"
            }
        }
        print("{" + body.joined(separator: ",") + "}")
    } else {
        // A string with spaces (the CPU model) is quoted so the line still splits on spaces.
        print(fields.map { key, value in
            let text = "\(value)"
            return "\(key)=" + (value is String && text.contains(" ") ? "\"\(text)\"" : text)
        }.joined(separator: " "))
    }
}

/// Wall-clock seconds of `body`.
func timed(_ body: () throws -> Void) rethrows -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

/// `sbcl-bench step`: one first-stage training step — ResNet-32 + head on two views of a batch,
/// the contrastive loss, backward, SGD — timed over `--steps` steps.
func runStepBench(_ arguments: [String]) throws {
    let o = try ModelBenchOptions(arguments, defaultBatch: 128)
    CPUThreads.set(o.threads)
    let model = SupConResNet(depth: 32, inputChannels: o.channels, seed: 0)
    let optimizer = SGD(parameters: model.namedParameters, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4)
    var rng = MT19937(seed: 1)
    let views = 2 * o.batch
    let x = Tensor((0..<views * o.size * o.size * o.channels).map { _ in Initialization.standardNormal(&rng) },
                   shape: [views, o.size, o.size, o.channels])
    let labels = (0..<o.batch).map { _ in Int32(rng.nextUInt32() % 10) }
    let subclasses = labels.map { $0 * 3 + Int32(rng.nextUInt32() % 3) }
    // The SBCL `rank` loss with its paper settings and per-class temperatures around τ.
    let loss = ContrastiveLoss(.sbclRank(temperature: 0.1, baseTemperature: 0.07, gamma: 0.25))
    let targets = ContrastiveTargets(labels: labels, subclasses: subclasses,
                                     classTemperatures: (0..<10).map { 0.08 + 0.004 * Float($0) })
    func step() -> Float {
        let z = model(x, training: true)
        let l = Tensor.contrastiveLoss(z, loss, targets)
        optimizer.step(l.gradients())
        return l.item
    }
    for _ in 0..<o.warmup { _ = step() }
    var last: Float = 0
    let seconds = timed { for _ in 0..<o.steps { last = step() } } / Double(o.steps)
    // Convolution flops only (they dominate; the head, normalisation and loss are not counted):
    // ResNet-32 forward ≈ 0.069 GFLOP per 32×32 view; a training step costs ≈ 3× forward.
    let gflop = 3 * Double(views) * resnetForwardGFLOP(size: o.size, channels: o.channels)
    report([("bench", "step"), ("batch", o.batch), ("views", views), ("size", o.size), ("channels", o.channels),
            ("threads", o.threads), ("ms_per_step", seconds * 1000), ("images_per_s", Double(o.batch) / seconds),
            ("gflops", gflop / seconds)] + BenchMachine.peakFields(gflops: gflop / seconds, threads: o.threads)
           + [("loss", Double(last)), ("loss_kind", "sbcl-rank")], json: o.json)
}

/// Forward GFLOP of one ResNet-32 view (convolutions only, which dominate).
func resnetForwardGFLOP(size: Int, channels: Int) -> Double {
    var flop = 2.0 * Double(size * size) * Double(16 * channels * 9)
    var s = size, c = 16
    for (planes, stride) in [(16, 1), (32, 2), (64, 2)] {
        for b in 0..<5 {
            let st = b == 0 ? stride : 1
            let so = (s - 1) / st + 1
            flop += 2 * Double(so * so) * Double(planes * c * 9) + 2 * Double(so * so) * Double(planes * planes * 9)
            s = so; c = planes
        }
    }
    return flop / 1e9
}
