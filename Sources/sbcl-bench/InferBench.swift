import Foundation
import Engine
import Stages
import CUDABackend

/// `sbcl-bench infer`: encoder inference (eval mode, no graph) on a batch of images.
func runInferBench(_ o: ModelBenchOptions) throws {
    let choice = try DeviceSelection.select(o.device)
    if let note = choice.note { FileHandle.standardError.write(Data((note + "\n").utf8)) }
    let place = choice.backend === CPUBackend.shared ? ExecutionPlace.cpu(threads: o.threads)
        : ExecutionPlace.single(on: choice.backend, threads: o.threads)
    place.activate()
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
           + inferPeak(place, gflops: gflop / seconds, threads: o.threads), json: o.json)
}

/// The peak fields for the place's backend (the GPU's or the cores').
private func inferPeak(_ place: ExecutionPlace, gflops: Double, threads: Int) -> [(String, Any)] {
    if let cuda = place.backend as? CUDABackend { return cudaPeakFields(cuda, gflops: gflops) }
    return place.isDevice ? [] : BenchMachine.peakFields(gflops: gflops, threads: threads)
}
