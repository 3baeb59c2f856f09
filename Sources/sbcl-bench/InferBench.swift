import Engine
import Stages

/// `sbcl-bench infer`: encoder inference (eval mode, no graph) on a batch of images.
func runInferBench(_ o: ModelBenchOptions) throws {
    let place = try benchPlace(o)
    let model = SupConResNet(depth: 32, inputChannels: o.channels, seed: 0)
    place.adopt(model)
    var rng = MT19937(seed: 2)
    let x = place.input((0..<o.batch * o.size * o.size * o.channels).map { _ in Initialization.standardNormal(&rng) },
                        shape: [o.batch, o.size, o.size, o.channels])
    // Each batch ends with its features read back (as embedding does), so the device's queue is timed.
    func run() { withoutGradients { _ = model.features(x, training: false).scalars.count } }
    for _ in 0..<o.warmup { run() }
    let seconds = timed { for _ in 0..<o.steps { run() } } / Double(o.steps)
    let gflop = Double(o.batch) * resnetForwardGFLOP(size: o.size, channels: o.channels)
    report([("bench", "infer"), ("device", place.backend.name), ("batch", o.batch), ("size", o.size), ("channels", o.channels), ("threads", o.threads),
            ("ms_per_batch", seconds * 1000), ("images_per_s", Double(o.batch) / seconds), ("gflops", gflop / seconds)]
           + peakFields(place, gflops: gflop / seconds, threads: o.threads), json: o.json)
}
