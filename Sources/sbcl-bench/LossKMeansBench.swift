import ArgumentParser
import Foundation
import Engine

/// Options of the loss and k-means benchmarks.
struct LossKMeansOptions: ParsableArguments {
    @Option(help: "Timed repeats.", transform: BenchValue.positive("--repeats"))
    var repeats = 5
    @Option(name: .customLong("threads"), help: "Worker threads (default: every core).", transform: BenchValue.positive("--threads"))
    var threadCount: Int?
    @Flag(help: "One JSON line.")
    var json = false

    var threads: Int { threadCount ?? ProcessInfo.processInfo.activeProcessorCount }
}

/// Unit-length rows of standard normal draws.
private func unitRows(_ rows: Int, _ dimension: Int, seed: UInt32) -> [Float] {
    var rng = MT19937(seed: seed)
    var x = (0..<rows * dimension).map { _ in Initialization.standardNormal(&rng) }
    for r in 0..<rows {
        var norm: Float = 0
        for d in 0..<dimension { norm += x[r * dimension + d] * x[r * dimension + d] }
        let inverse = 1 / norm.squareRoot()
        for d in 0..<dimension { x[r * dimension + d] *= inverse }
    }
    return x
}

/// `sbcl-bench loss`: the SBCL `rank` loss with its gradient on 1024 images × 2 views × 128-d,
/// 100 classes of 5 subclasses — the shape of `../shared/anchors/torch_loss_kmeans.py`.
func runLossBench(_ o: LossKMeansOptions) throws {
    CPUThreads.set(o.threads)
    let batch = 1024, classes = 100, dimension = 128
    let features = unitRows(2 * batch, dimension, seed: 3)
    var rng = MT19937(seed: 4)
    let labels = (0..<batch).map { _ in Int32(rng.nextUInt32() % UInt32(classes)) }
    let subclasses = labels.map { $0 * 5 + Int32(rng.nextUInt32() % 5) }
    let loss = ContrastiveLoss(.sbclRank(temperature: 0.1, baseTemperature: 0.07, gamma: 0.25), maxThreads: o.threads)
    let temperatures = [Float](repeating: 0.1, count: classes)
    var gradient: [Float] = []
    var value: Float = 0
    func run() {
        value = loss.valueAndGradient(features: features, labels: labels, subclasses: subclasses,
                                      classTemperatures: temperatures, gradient: &gradient)
    }
    run()
    let seconds = timed { for _ in 0..<o.repeats { run() } } / Double(o.repeats)
    report([("bench", "loss"), ("batch", batch), ("threads", o.threads), ("loss_ms_b1024", seconds * 1000),
            ("loss", Double(value))], json: o.json)
}

/// `sbcl-bench kmeans`: one cosine k-means (k = 100, at most 35 iterations, tolerance 1e-3) over
/// 10,000 × 128 unit vectors — the re-clustering pass of `../shared/anchors/torch_loss_kmeans.py`.
func runKMeansBench(_ o: LossKMeansOptions) throws {
    CPUThreads.set(o.threads)
    let points = unitRows(10_000, 128, seed: 5)
    let kmeans = CosineKMeans(clusterCount: 100)
    var iterations = 0
    var times: [Double] = []
    for r in 0..<o.repeats {
        var generator = MT19937(seed: UInt32(r))
        times.append(timed { iterations = kmeans.fit(points: points, dimension: 128, generator: &generator).iterations })
    }
    let median = times.sorted()[times.count / 2]
    report([("bench", "kmeans"), ("points", 10_000), ("threads", o.threads),
            ("kmeans_ms_10000x128_k100_35it", median * 1000), ("iterations", iterations)], json: o.json)
}
