import Foundation
import Engine

/// `sbcl-bench step --moco [--arch resnet50] [--size 224] [--batch 32] [--queue 65536]`: one
/// first-stage ImageNet-LT step as the authors' moco/main.py runs it — two crops, the momentum
/// update, the key encoder's forward, the query encoder's forward and backward, the loss, SGD
/// (lr 0.1, momentum 0.9, weight decay 1e-4) — timed over `--steps` steps. The same work as
/// ../shared/anchors/torch_moco_step.py (scripts/bench/compare_moco_with_pytorch.sh runs both).
///
/// The loss is a plain InfoNCE cross-entropy on logits / 0.07 with label 0, not the KCL loss (being
/// written in Engine/Losses/MoCoLosses.swift): both are a softmax cross-entropy over the same
/// [B, 1 + K] logits, KCL with k = 6 positives picked from the queue, so they cost the same to
/// within a few milliseconds of a step that takes seconds.
func runMoCoStepBench(_ arguments: [String]) throws {
    var arch = ResNetImageNet.Architecture.resnet50
    var queue = 65536, rest: [String] = []
    var i = 0
    while i < arguments.count {
        switch arguments[i] {
        case "--moco": break
        case "--arch":
            i += 1
            guard i < arguments.count, let a = ResNetImageNet.Architecture(rawValue: arguments[i]) else {
                throw BenchError.usage("--arch needs one of resnet18, resnet34, resnet50")
            }
            arch = a
        case "--queue":
            i += 1
            guard i < arguments.count, let k = Int(arguments[i]), k > 0 else { throw BenchError.usage("--queue needs a positive integer") }
            queue = k
        default: rest.append(arguments[i])
        }
        i += 1
    }
    let o = try ModelBenchOptions(rest, defaultBatch: 32)
    guard queue % o.batch == 0 else { throw BenchError.usage("--queue \(queue) must be a multiple of --batch \(o.batch)") }
    CPUThreads.set(o.threads)
    let model = MoCo(arch, queueSize: queue, seed: 0)
    let optimizer = SGD(parameters: model.queryParameters, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4)
    var rng = MT19937(seed: 1)
    let shape = [o.batch, o.size, o.size, o.channels], count = shape.reduce(1, *)
    let crops = (0..<2).map { _ in Tensor((0..<count).map { _ in Initialization.standardNormal(&rng) }, shape: shape) }
    let classes = (0..<o.batch).map { _ in Int(rng.nextUInt32() % 10) }
    let subclasses = classes.map { $0 * 3 + Int(rng.nextUInt32() % 3) }
    let target = Tensor(int32: Array(repeating: 0, count: o.batch), shape: [o.batch])
    var last: Float = 0
    func step() {
        let out = model.forward(query: crops[0], key: crops[1], subclassLabels: subclasses, classLabels: classes)
        let loss = Tensor.crossEntropy(logits: out.logits.scaled(by: 1 / 0.07), labels: target)
        optimizer.step(loss.gradients())
        last = loss.item
    }
    for _ in 0..<o.warmup { step() }
    let seconds = timed { for _ in 0..<o.steps { step() } } / Double(o.steps)
    report([("bench", "step-moco"), ("arch", arch.rawValue), ("batch", o.batch), ("size", o.size), ("queue", queue),
            ("threads", o.threads), ("ms_per_step", seconds * 1000), ("images_per_s", Double(o.batch) / seconds),
            ("loss", Double(last)), ("loss_kind", "infonce (stands in for KCL)")], json: o.json)
}

/// `sbcl-bench step`: the CIFAR step (`runStepBench`), or the MoCo step with `--moco`.
func runStepOrMoCoBench(_ arguments: [String]) throws {
    if arguments.contains("--moco") { try runMoCoStepBench(arguments) } else { try runStepBench(arguments) }
}
