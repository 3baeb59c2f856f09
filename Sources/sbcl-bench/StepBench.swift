import ArgumentParser
import Foundation
import Datasets
import Engine
import MPITransport
import Stages
import OpenCLBackend
import CUDABackend

/// Options shared by the model benchmarks, as the command line gives them (each value checked
/// once, while it is parsed).
struct ModelBenchArguments: ParsableArguments {
    @Option(help: "Images per batch (default: the benchmark's).", transform: BenchValue.positive("--batch"))
    var batch: Int?
    @Option(help: "Image height and width.", transform: BenchValue.positive("--size"))
    var size = 32
    @Option(help: "Image channels.", transform: BenchValue.positive("--channels"))
    var channels = 3
    @Option(help: "Timed steps.", transform: BenchValue.positive("--steps"))
    var steps = 5
    @Option(help: "Untimed steps first.", transform: BenchValue.positive("--warmup"))
    var warmup = 2
    @Option(help: "Worker threads (default: every core).", transform: BenchValue.positive("--threads"))
    var threads: Int?
    @Flag(help: "One JSON line.")
    var json = false
    @Option(help: "step: the CIFAR ResNet depth.", transform: BenchValue.positive("--depth"))
    var depth = 32
    @Flag(name: .customLong("sync-batchnorm"), help: "step: synchronised batch norm across ranks.")
    var syncBatchNorm = false
    @Option(name: .customLong("dump-gradients"), help: ArgumentHelp("step: write one step's summed gradients here instead of timing.",
                                                                    valueName: "file"))
    var dumpGradients: String?
    @Option(help: ArgumentHelp("cpu, cuda, cuda:N, opencl, opencl:cpu or auto (as sbcl-run's; step, infer and step --moco).", valueName: "device"))
    var device = "cpu"

    /// The values, with `defaultBatch` when `--batch` is not given.
    func options(defaultBatch: Int) -> ModelBenchOptions {
        ModelBenchOptions(batch: batch ?? defaultBatch, size: size, channels: channels, steps: steps, warmup: warmup,
                          threads: threads ?? ProcessInfo.processInfo.activeProcessorCount, json: json, depth: depth,
                          syncBatchNorm: syncBatchNorm, dumpGradients: dumpGradients, device: device)
    }
}

/// The model benchmarks' settings.
struct ModelBenchOptions {
    var batch: Int, size: Int, channels: Int, steps: Int, warmup: Int, threads: Int
    var json: Bool
    /// `step`: the CIFAR ResNet depth, synchronised batch norm across ranks, and a file to write one
    /// step's (rank-summed) gradients to instead of timing.
    var depth: Int, syncBatchNorm: Bool
    var dumpGradients: String?
    /// `step`: the device (`--device cpu|opencl|opencl:cpu|auto`, as sbcl-run's).
    var device: String
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

/// `sbcl-bench step`: one first-stage training step — a CIFAR ResNet (32 by default) + head on two
/// views of a batch, the contrastive loss, backward, SGD — timed over `--steps` steps, through the
/// same `EncoderStep` training runs.
///
/// Under `mpirun -np N` it is the data-parallel step of the same global batch: each rank forwards
/// its slice, the projections are gathered and the gradients summed (rank 0 prints the line, with
/// the measured cost of the step's all-reduce and all-gather alone and their share of the step).
/// `--dump-gradients FILE` writes one step's summed gradients (safetensors) instead of timing.
func runStepBench(_ o: ModelBenchOptions, configuration: BenchConfiguration) throws {
    let job = try configuration.joinRankJob()
    defer { job?.finish() }
    let place = try benchPlace(o, communicator: job, synchronizesBatchNorm: o.syncBatchNorm)
    let model = SupConResNet(depth: o.depth, inputChannels: o.channels, seed: 0)
    place.adopt(model)
    let optimizer = SGD(parameters: model.namedParameters, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4)
    var rng = MT19937(seed: 1)
    let viewSize = o.size * o.size * o.channels
    // Every rank draws the whole global batch (the same numbers) and keeps its slice of each view.
    let all = (0..<2 * o.batch * viewSize).map { _ in Initialization.standardNormal(&rng) }
    let rows = place.ranks.slice(of: o.batch)
    let images = Array(all[(rows.lowerBound * viewSize)..<(rows.upperBound * viewSize)])
        + all[((o.batch + rows.lowerBound) * viewSize)..<((o.batch + rows.upperBound) * viewSize)]
    let labels = (0..<o.batch).map { _ in Int32(rng.nextUInt32() % 10) }
    let subclasses = labels.map { $0 * 3 + Int32(rng.nextUInt32() % 3) }
    let batch = Batch(images: images, labels: labels, indices: Array(0..<o.batch), views: 2, batchSize: o.batch,
                      height: o.size, width: o.size, channels: o.channels, position: LoaderPosition(epoch: 1, step: 0),
                      shard: place.ranks.size > 1 ? rows : nil)
    // The SBCL `rank` loss with its paper settings and per-class temperatures around τ.
    let loss = ContrastiveLoss(.sbclRank(temperature: 0.1, baseTemperature: 0.07, gamma: 0.25))
    let objective = EncoderStep.Objective.contrastive(loss, subclasses: subclasses,
                                                      temperatures: (0..<10).map { 0.08 + 0.004 * Float($0) })
    let step = EncoderStep(model: model, optimizer: optimizer, place: place)
    if let file = o.dumpGradients {
        let (value, gradients) = step.gradients(batch, objective: objective)
        guard place.ranks.rank == 0 else { return }
        guard let gradients else { throw BenchError.usage("the loss is \(value); no gradients to write") }
        let tensors = optimizer.parameters.compactMap { name, parameter in
            gradients[parameter.value].map { (name: name, array: HostArray(floats: $0.scalars, shape: $0.shape)) }
        }
        try SafeTensors.write(tensors, metadata: ["loss": "\(value)", "ranks": "\(place.ranks.size)"], to: URL(fileURLWithPath: file))
        return
    }
    for _ in 0..<o.warmup { _ = step(batch, rate: 0.1, objective: objective) }
    var last: Float = 0
    let waitedBefore = hostWaitSeconds(place)
    let seconds = timed { for _ in 0..<o.steps { last = step(batch, rate: 0.1, objective: objective) } } / Double(o.steps)
    let wait = hostWaitFields(place, since: waitedBefore, steps: o.steps, secondsPerStep: seconds)
    let exchange = job.map { measureExchange($0, parameters: model.parameterCount, projections: 2 * o.batch * 128, repeats: 20) }
    guard place.ranks.rank == 0 else { return }
    // Convolution flops only (they dominate; the head, normalisation and loss are not counted):
    // ResNet-32 forward ≈ 0.069 GFLOP per 32×32 view; a training step costs ≈ 3× forward.
    let gflop = 3 * Double(2 * o.batch) * resnetForwardGFLOP(size: o.size, channels: o.channels) * Double(o.depth - 2) / 30
    var fields: [(String, Any)] = [("bench", "step"), ("device", place.backend.name), ("batch", o.batch), ("views", 2 * o.batch), ("size", o.size), ("channels", o.channels),
                                   ("depth", o.depth), ("threads", o.threads), ("ranks", place.ranks.size),
                                   ("ms_per_step", seconds * 1000), ("images_per_s", Double(o.batch) / seconds),
                                   ("gflops", gflop / seconds)] + wait
    fields += peakFields(place, gflops: gflop / seconds / Double(place.ranks.size), threads: o.threads)
    if let exchange {
        fields += [("allreduce_ms", exchange.allReduce * 1000), ("allreduce_bytes", 4 * model.parameterCount),
                   ("allgather_ms", exchange.allGather * 1000),
                   ("exchange_share", (exchange.allReduce + exchange.allGather) / seconds)]
    }
    report(fields + [("loss", Double(last)), ("loss_kind", "sbcl-rank")], json: o.json)
    if let opencl = place.backend as? OpenCLBackend, !opencl.profile.isEmpty {
        // SBCL_OPENCL_PROFILE=1: where the device's time went (the timed steps and the warm-up).
        for entry in opencl.profile {
            let name = entry.kernel.padding(toLength: 26, withPad: " ", startingAt: 0)
            FileHandle.standardError.write(Data((name + String(format: "%9.3f s %7d calls\n", entry.seconds, entry.calls)).utf8))
        }
    }
}

/// The seconds of one all-reduce of `parameters` floats and of one all-gather of `projections`
/// floats (split over the ranks), averaged over `repeats`, between otherwise idle ranks.
func measureExchange(_ communicator: MPICommunicator, parameters: Int, projections: Int, repeats: Int) -> (allReduce: Double, allGather: Double) {
    var gradients = [Float](repeating: 1, count: parameters)
    var token: [Float] = [0]
    communicator.allReduceSum(&token)  // start together
    let allReduce = timed { for _ in 0..<repeats { communicator.allReduceSum(&gradients) } } / Double(repeats)
    let counts = (0..<communicator.size).map { rankSlice(of: projections, rank: $0, size: communicator.size).count }
    let local = [Float](repeating: 1, count: counts[communicator.rank])
    communicator.allReduceSum(&token)
    let allGather = timed { for _ in 0..<repeats { _ = communicator.allGather(local, counts: counts) } } / Double(repeats)
    return (allReduce, allGather)
}

/// `--device`'s place for a bench, made the engine's (threads), with `communicator`'s ranks under
/// mpirun: on a device each rank takes its local GPU (`cuda`; `cuda:N` as given; OpenCL's ranks
/// share the device), and rank 0 says which to stderr. What `sbcl-run` refuses across ranks on a
/// device (`--sync-batchnorm`) is refused here too.
func benchPlace(_ o: ModelBenchOptions, communicator: MPICommunicator? = nil,
                synchronizesBatchNorm: Bool = false) throws -> ExecutionPlace {
    let choice = try DeviceSelection.select(o.device, localRank: communicator?.localRank ?? 0)
    if let note = choice.note, (communicator?.rank ?? 0) == 0 { FileHandle.standardError.write(Data((note + "\n").utf8)) }
    let place = try ExecutionPlace.shared(on: choice.backend, device: o.device, threads: o.threads, communicator: communicator,
                                          synchronizesBatchNorm: synchronizesBatchNorm)
    place.activate()
    if place.isDevice && place.ranks.size > 1 {
        let devices = place.rankDevices((choice.ordinal.map { "cuda:\($0) " } ?? "") + choice.backend.name)
        if place.ranks.rank == 0 {
            let text = devices.enumerated().map { "rank \($0.offset): \($0.element)" }.joined(separator: "; ")
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }
    return place
}

/// The peak fields for one rank's `gflops` at `place`: the GPU's for CUDA, none for another
/// device (its peak is unknown), the cores' for the CPU.
func peakFields(_ place: ExecutionPlace, gflops: Double, threads: Int) -> [(String, Any)] {
    if let cuda = place.backend as? CUDABackend { return cudaPeakFields(cuda, gflops: gflops) }
    return place.isDevice ? [] : BenchMachine.peakFields(gflops: gflops, threads: threads)
}

/// The seconds a CUDA backend's host has waited on the device so far (0 elsewhere).
func hostWaitSeconds(_ place: ExecutionPlace) -> Double {
    (place.backend as? CUDABackend)?.hostWaitSeconds ?? 0
}

/// On CUDA: `host_wait_ms`, the host's time per step blocked on the device since `since`
/// (`hostWaitSeconds`), and its share of the step — near 0 when the host issuing the work is what
/// bounds the step, near 1 when the GPU is.
func hostWaitFields(_ place: ExecutionPlace, since: Double, steps: Int, secondsPerStep: Double) -> [(String, Any)] {
    guard place.backend is CUDABackend else { return [] }
    let perStep = (hostWaitSeconds(place) - since) / Double(steps)
    return [("host_wait_ms", perStep * 1000), ("host_wait_share", perStep / secondsPerStep)]
}

/// `peak_gflops` and `fraction_of_peak` against the GPU's peak for the step's arithmetic: the
/// tensor cores' dense TF32 rate when convolutions run in TF32, else the float32 CUDA cores';
/// and both peaks, for the record.
func cudaPeakFields(_ backend: CUDABackend, gflops: Double) -> [(String, Any)] {
    guard let peak = backend.cudaDevice.peakGFLOPS else { return [] }
    let tensorCores = backend.precision != .float32
    var fields: [(String, Any)] = [("float32_peak_gflops", peak.float32)]
    if let tf32 = peak.tf32 { fields.append(("tf32_peak_gflops", tf32)) }
    let reference = tensorCores ? peak.tf32 : peak.float32
    if let reference { fields += [("peak_gflops", reference), ("fraction_of_peak", gflops / reference)] }
    return fields
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
