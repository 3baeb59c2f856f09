import Foundation
import Datasets
import Engine
import MPITransport
import Stages

/// `sbcl-bench recluster`: SBCL's re-clustering step — embed one view of every image, k-means per
/// class, class temperatures — on a synthetic long-tailed set of 28×28 images, timed once.
///
/// Under `mpirun -np N` each rank embeds its share of the batches and the projections are
/// gathered; the line (rank 0's) carries digests of the projections and of the subclass labels,
/// which must equal a single process's (the data-parallel tests compare them).
func runReclusterBench(_ o: ModelBenchOptions, configuration: BenchConfiguration) throws {
    let job = try configuration.joinRankJob()
    defer { job?.finish() }
    let place = ExecutionPlace.cpu(threads: o.threads, communicator: job)
    place.activate()
    // 10 classes of 120 … 12 images (a long tail of ratio 10), random pixels.
    let counts = (0..<10).map { Int(120 * pow(0.1, Double($0) / 9)) }
    let labels = counts.enumerated().flatMap { c, n in [Int32](repeating: Int32(c), count: n) }
    var rng = MT19937(seed: 3)
    let pixels = (0..<(labels.count * 28 * 28)).map { _ in UInt8(truncatingIfNeeded: rng.nextUInt32()) }
    let images = ImageSet(height: 28, width: 28, channels: 1, pixels: pixels, labels: labels, classNames: (0..<10).map { "c\($0)" })
    let pipeline = try AugmentationPipeline(steps: AugmentationStep.classifierViews(size: 28, mean: [0.5], std: [0.25]))
    let model = SupConResNet(depth: o.depth, inputChannels: 1, seed: 0)
    var generator = MT19937(seed: 7)
    var embedded: (projections: [Float], dimension: Int) = ([], 0)
    var result: Reclustering.Result?
    let seconds = try timed {
        embedded = try Reclustering.embed(model: model, images: images, pipeline: pipeline, seed: 11, epoch: 2,
                                          batchSize: o.batch, place: place)
        result = try Reclustering.cluster(projections: embedded.projections, dimension: embedded.dimension, labels: labels,
                                          classCount: 10, settings: ClusteringStage.Settings.defaults.with { $0.minimumClusterSize = 10 },
                                          temperature: 0.1, generator: &generator)
    }
    guard place.ranks.rank == 0, let result else { return }
    report([("bench", "recluster"), ("images", labels.count), ("batch", o.batch), ("threads", o.threads), ("ranks", place.ranks.size),
            ("ms", seconds * 1000), ("subclasses", result.clusterCounts.reduce(0, +)),
            ("projections_digest", String(StateDigest.of(embedded.projections.map(\.bitPattern)), radix: 16)),
            ("subclasses_digest", String(StateDigest.of(result.subclasses.map { UInt32(bitPattern: $0) }), radix: 16))], json: o.json)
}
