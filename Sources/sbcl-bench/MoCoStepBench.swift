import Foundation
import Engine
import Stages

/// `sbcl-bench step --moco [--arch resnet50] [--size 224] [--batch 32] [--queue 65536]`: one
/// first-stage ImageNet-LT step as the authors' moco/main.py runs it — two crops, the momentum
/// update, the key encoder's forward, the query encoder's forward and backward, the loss, SGD
/// (lr 0.1, momentum 0.9, weight decay 1e-4) — timed over `--steps` steps. The same work as
/// ../shared/anchors/torch_moco_step.py (scripts/bench/compare_moco_with_pytorch.sh runs both).
///
/// The step is the training loop's own (`MoCoStep`) with KCL (k = 6, τ = 0.07) as the first half
/// of the reference's schedule trains; the queue starts with labels −1 as in training, and the
/// first (warm-up) steps fill it with this batch's classes.
func runMoCoStepBench(_ o: ModelBenchOptions, arch: ResNetImageNet.Architecture, queue: Int) throws {
    guard queue % o.batch == 0 else { throw BenchError.usage("--queue \(queue) must be a multiple of --batch \(o.batch)") }
    let place = try benchPlace(o)
    let model = MoCo(arch, queueSize: queue, seed: 0)
    place.adopt(model)
    let optimizer = SGD(parameters: model.queryParameters, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4)
    var rng = MT19937(seed: 1)
    let shape = [o.batch, o.size, o.size, o.channels], count = shape.reduce(1, *)
    let crops = (0..<2).map { _ in place.input((0..<count).map { _ in Initialization.standardNormal(&rng) }, shape: shape) }
    let classes = (0..<o.batch).map { _ in Int(rng.nextUInt32() % 10) }
    let subclasses = classes.map { $0 * 3 + Int(rng.nextUInt32() % 3) }
    let trainStep = MoCoStep(model: model, optimizer: optimizer, place: place), kcl = MoCoLoss(.kclDefault, maxThreads: o.threads)
    var last: Float = 0
    func step() {
        last = trainStep(query: crops[0], key: crops[1], labels: classes.map(Int32.init), subclasses: subclasses.map(Int32.init), loss: kcl)
    }
    for _ in 0..<o.warmup { step() }
    let waitedBefore = hostWaitSeconds(place)
    let seconds = timed { for _ in 0..<o.steps { step() } } / Double(o.steps)
    let wait = hostWaitFields(place, since: waitedBefore, steps: o.steps, secondsPerStep: seconds)
    report([("bench", "step-moco"), ("device", place.backend.name), ("arch", arch.rawValue), ("batch", o.batch), ("size", o.size), ("queue", queue),
            ("threads", o.threads), ("ms_per_step", seconds * 1000), ("images_per_s", Double(o.batch) / seconds),
            ("loss", Double(last)), ("loss_kind", "kcl")] + wait, json: o.json)
}
