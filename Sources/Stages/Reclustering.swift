import Foundation
import PipelineDSL
import Engine
import Datasets

/// SBCL's re-clustering step (docs/method.md, "First stage"; `cluster()` of the reference's SimCLR/main.py): embed one
/// augmented view of every training image in eval mode, split the projections by class, give
/// class c k_c = max(1, ⌊n_c / max(min_c n_c, M)⌋) subclasses by cosine k-means, and compute the
/// class temperatures of the `rank` loss from the class densities.
public enum Reclustering {
    /// The outcome of one re-clustering.
    public struct Result: Sendable, Equatable {
        /// The subclass id of every training image, by image index; ids are offset per class
        /// (class c's ids start at Σ_{c' < c} k_{c'}) so they are unique.
        public var subclasses: [Int32]
        /// τ_c for every class.
        public var classTemperatures: [Float]
        /// k_c for every class.
        public var clusterCounts: [Int]
    }

    /// Projections [N, D] (L2-normalised) of one view of every image of `images`, in image order,
    /// computed in eval mode without gradients, `batchSize` images at a time.
    ///
    /// The view of image i is drawn from the generator keyed by (`seed`, `epoch`, i), so it is the
    /// same whenever the same epoch is re-clustered (a resumed run sees the same views). On several
    /// ranks each embeds a contiguous share of the batches — the very batches one process embeds,
    /// so the same bits — and the projections are gathered: every rank ends with all of them.
    /// - Parameter pipeline: the training augmentation; only its first view is used.
    public static func embed(model: SupConResNet, images: ImageSet, pipeline: AugmentationPipeline, seed: UInt64,
                             epoch: Int, batchSize: Int = 256, place: ExecutionPlace) throws -> (projections: [Float], dimension: Int) {
        try embed(images: images, pipeline: pipeline, seed: seed, epoch: epoch, batchSize: batchSize, place: place,
                  dimension: model.head2.weight.shape[0]) { model($0, training: false) }
    }

    /// The same for any network and image source: `project` maps a batch of views (on the place's
    /// backend) to its [B, `dimension`] projections (a MoCo key encoder's, for ImageNet-LT).
    public static func embed(images: any ImageSource, pipeline: AugmentationPipeline, seed: UInt64, epoch: Int, batchSize: Int = 256,
                             place: ExecutionPlace, dimension: Int,
                             project: (Tensor) -> Tensor) throws -> (projections: [Float], dimension: Int) {
        let oneView = try AugmentationPipeline(steps: pipeline.steps, views: 1)
        let sampler = Sampler(kind: .sequential, labels: images.labels, classCount: images.classCount, seed: seed)
        let loader = try BatchLoader(source: images, pipeline: oneView, sampler: sampler, batchSize: batchSize, seed: seed,
                                     threads: place.threads, start: LoaderPosition(epoch: epoch, step: 0))
        var rows = [Float](), order = [Int32]()
        for step in place.ranks.slice(of: loader.stepsPerEpoch) {
            let batch = try loader.batch(at: LoaderPosition(epoch: epoch, step: step))
            let z = withoutGradients { project(place.input(batch.images, shape: batch.shape)) }
            rows += z.scalars
            order += batch.indices.map { Int32($0) }
        }
        if let communicator = place.communicator {
            let counts = communicator.allGather([order.count]).map { $0[0] }
            order = communicator.allGather(order, counts: counts)
            rows = communicator.allGather(rows, counts: counts.map { $0 * dimension })
        }
        var projections = [Float](repeating: 0, count: images.count * dimension)
        for (row, index) in order.enumerated() {
            let target = Int(index) * dimension
            projections[target..<(target + dimension)] = rows[(row * dimension)..<((row + 1) * dimension)]
        }
        return (projections, dimension)
    }

    /// Subclasses and class temperatures from projections [N, `dimension`] of the images whose
    /// labels are `labels` (any order: images are grouped by class, stably, as the reference's
    /// class-sorted data set has them).
    ///
    /// - Parameters:
    ///   - temperature: τ; classes with k_c = 1 (and all classes unless `densityTemperatures`) get it.
    ///   - generator: draws every class's initial centres in class order (k_c = 1 draws nothing).
    /// - Throws: `RunError` when a class has no training image (SBCL needs every class).
    public static func cluster(projections: [Float], dimension: Int, labels: [Int32], classCount: Int,
                               settings: ClusteringStage.Settings, temperature: Float,
                               generator: inout MT19937) throws -> Result {
        precondition(projections.count == labels.count * dimension,
                     "Reclustering.cluster: \(projections.count) values for \(labels.count) images × \(dimension)")
        var members = [[Int]](repeating: [], count: classCount)
        for (i, label) in labels.enumerated() { members[Int(label)].append(i) }
        if let empty = members.firstIndex(where: { $0.isEmpty }) {
            throw RunError("re-clustering: class \(empty) has no training image; SBCL needs at least one image per class")
        }
        let classCounts = members.map(\.count)
        var grouped = [Float]()
        grouped.reserveCapacity(projections.count)
        for indices in members {
            for i in indices { grouped.append(contentsOf: projections[(i * dimension)..<((i + 1) * dimension)]) }
        }
        let clusterCounts = SubclassClustering.clusterCounts(classCounts: classCounts, minimumClusterSize: settings.minimumClusterSize)
        let temperatures = settings.densityTemperatures
            ? SubclassClustering.classTemperatures(features: grouped, dimension: dimension, classCounts: classCounts,
                                                   clusterCounts: clusterCounts, temperature: temperature)
            : [Float](repeating: temperature, count: classCount)
        var subclasses = [Int32](repeating: 0, count: labels.count)
        var start = 0, offset: Int32 = 0
        for (c, indices) in members.enumerated() {
            let k = clusterCounts[c], count = indices.count
            if k > 1 {
                let slice = Array(grouped[(start * dimension)..<((start + count) * dimension)])
                let result = settings.balanced
                    ? BalancedCosineKMeans(clusterCount: k, tolerance: settings.tolerance, maxIterations: settings.maxIterations)
                        .fit(points: slice, dimension: dimension, generator: &generator)
                    : CosineKMeans(clusterCount: k, tolerance: settings.tolerance, maxIterations: settings.maxIterations)
                        .fit(points: slice, dimension: dimension, generator: &generator)
                for (j, i) in indices.enumerated() { subclasses[i] = result.assignments[j] + offset }
            } else {
                for i in indices { subclasses[i] = offset }
            }
            start += count
            offset += Int32(k)
        }
        return Result(subclasses: subclasses, classTemperatures: temperatures, clusterCounts: clusterCounts)
    }
}
