import Dispatch
import Engine
import Foundation

/// Batches of augmented views for training: a batch is a pure function of (seed, epoch, step);
/// the next one is prepared on a background thread while the caller trains, and the images of a
/// batch are augmented on `threads` threads.
public final class BatchLoader: @unchecked Sendable {
    // @unchecked: the mutable iteration state (`position`, `pending`, the order cache) is only
    // touched under `lock`; everything else is immutable after init.
    /// The images drawn from.
    public let source: any ImageSource
    /// The augmentation of each view.
    public let pipeline: AugmentationPipeline
    /// The epoch order.
    public let sampler: Sampler
    /// Images per batch B.
    public let batchSize: Int
    /// Whether an epoch's last, smaller batch is dropped.
    public let dropLast: Bool
    /// The run seed that every view's generator derives from.
    public let seed: UInt64
    /// Threads augmenting one batch.
    public let threads: Int
    /// The view size (H, W, C), fixed for the whole run.
    public let viewHeight: Int, viewWidth: Int, viewChannels: Int
    /// The part of every batch this loader augments: rank `index` of `count` takes the contiguous
    /// slice `rankSlice(of: B, rank:size:)` of each global batch (the same views a single process
    /// makes for those images); (0, 1): all of it.
    public let shard: (index: Int, count: Int)

    private let lock = NSLock()
    private var cachedOrder: (epoch: Int, order: [Int])?
    private var current: LoaderPosition
    private var pending: PendingBatch?
    private let queue = DispatchQueue(label: "sbcl.loader.prefetch")

    /// A loader. The view size comes from the pipeline applied to image 0.
    ///
    /// - Throws: `DatasetError.badParameter` for an empty source or batch size below 1, or the
    ///   error of reading image 0.
    public init(source: any ImageSource, pipeline: AugmentationPipeline, sampler: Sampler, batchSize: Int,
                dropLast: Bool = false, seed: UInt64, threads: Int = 2, start: LoaderPosition = LoaderPosition(epoch: 0, step: 0),
                shard: (index: Int, count: Int) = (0, 1)) throws {
        precondition(shard.count >= 1 && (0..<shard.count).contains(shard.index), "BatchLoader: shard \(shard)")
        self.shard = shard
        guard source.count > 0 else { throw DatasetError(.badParameter, path: "", "the data set is empty") }
        guard batchSize > 0 else { throw DatasetError(.badParameter, path: "", "batch size must be at least 1, got \(batchSize)") }
        self.source = source
        self.pipeline = pipeline
        self.sampler = sampler
        self.batchSize = batchSize
        self.dropLast = dropLast
        self.seed = seed
        self.threads = max(1, threads)
        let shape = try source.withImage(at: 0) { _, h, w, c in (pipeline.outputSize(height: h, width: w), c) }
        viewHeight = shape.0.height
        viewWidth = shape.0.width
        viewChannels = shape.1
        current = start
    }

    /// The number of images one epoch draws (N, or max_c n_c · C for the class-aware sampler, or
    /// the sampler's `EpochLength.draws`).
    public var samplesPerEpoch: Int {
        orderDefinesEpoch ? epochOrder(0).count : source.count
    }

    /// Whether an epoch's length is its order's (the class-aware pass, a fixed number of draws)
    /// rather than the data set's size.
    private var orderDefinesEpoch: Bool { sampler.kind == .classAware || sampler.epochLength != .pass }

    /// Batches per epoch.
    public var stepsPerEpoch: Int {
        let n = samplesPerEpoch
        return dropLast ? n / batchSize : (n + batchSize - 1) / batchSize
    }

    /// Where `next()` will read from; save it in a checkpoint.
    public var position: LoaderPosition {
        lock.lock(); defer { lock.unlock() }
        return current
    }

    /// Moves to `position` (resuming from a checkpoint); a prefetched batch elsewhere is dropped.
    public func seek(to position: LoaderPosition) {
        lock.lock(); defer { lock.unlock() }
        current = position
        if pending?.position != position { pending = nil }
    }

    /// The batch at the current position, then advances. The following batch starts preparing
    /// in the background before this returns.
    public func next() throws -> Batch {
        lock.lock()
        let here = current
        let ready = pending?.position == here ? pending : nil
        pending = nil
        var following = LoaderPosition(epoch: here.epoch, step: here.step + 1)
        if following.step >= stepsPerEpochUnlocked(epoch: here.epoch) { following = LoaderPosition(epoch: here.epoch + 1, step: 0) }
        current = following
        let prefetch = PendingBatch(position: following)
        pending = prefetch
        lock.unlock()
        queue.async { [self] in prefetch.finish(Result { try batch(at: prefetch.position) }) }
        if let ready { return try ready.wait().get() }
        return try batch(at: here)
    }

    private func stepsPerEpochUnlocked(epoch: Int) -> Int {
        let n = orderDefinesEpoch ? orderUnlocked(epoch).count : source.count
        return max(1, dropLast ? n / batchSize : (n + batchSize - 1) / batchSize)
    }

    private func orderUnlocked(_ epoch: Int) -> [Int] {
        if let cachedOrder, cachedOrder.epoch == epoch { return cachedOrder.order }
        let order = sampler.order(epoch: epoch)
        cachedOrder = (epoch, order)
        return order
    }

    /// The image order of `epoch` (cached for the latest epoch asked).
    public func epochOrder(_ epoch: Int) -> [Int] {
        lock.lock(); defer { lock.unlock() }
        return orderUnlocked(epoch)
    }

    /// The batch at `position`, computed now; independent of `next()`'s state.
    ///
    /// - Throws: the `DatasetError` of an image that cannot be read or decoded, or
    ///   `.badParameter` when an image's view size differs from the run's.
    public func batch(at position: LoaderPosition) throws -> Batch {
        let order = epochOrder(position.epoch)
        let first = position.step * batchSize
        precondition(first < order.count, "BatchLoader.batch: step \(position.step) beyond the epoch's \(order.count) samples")
        let indices = Array(order[first..<min(order.count, first + batchSize)])
        let rows = rankSlice(of: indices.count, rank: shard.index, size: shard.count)
        let b = rows.count, viewSize = viewHeight * viewWidth * viewChannels
        var images = [Float](repeating: 0, count: pipeline.views * b * viewSize)
        let chunks = max(1, min(threads, b))
        var errors = [Error?](repeating: nil, count: chunks)
        images.withUnsafeMutableBufferPointer { out in
            errors.withUnsafeMutableBufferPointer { errs in
                DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                    var scratch = AugmentationScratch()
                    do {
                        for k in (chunk * b / chunks)..<((chunk + 1) * b / chunks) {
                            try augmentImage(indices[rows.lowerBound + k], slot: k, count: b, position: position,
                                             first: first + rows.lowerBound, scratch: &scratch, out: out, viewSize: viewSize)
                        }
                    } catch {
                        errs[chunk] = error
                    }
                }
            }
        }
        if let error = errors.compactMap({ $0 }).first { throw error }
        return Batch(images: images, labels: indices.map { source.labels[$0] }, indices: indices, views: pipeline.views,
                     batchSize: indices.count, height: viewHeight, width: viewWidth, channels: viewChannels, position: position,
                     shard: shard.count > 1 ? rows : nil)
    }

    /// Makes the views of image `index`: draws each view's parameters from its own generator at
    /// the image's full size, lets the source decode it (on this worker thread) no larger than
    /// the views need (`AugmentationPipeline.decodeScale`), maps the draws onto what was decoded
    /// and applies them. In-memory sources always deliver full size, so their views are as before.
    private func augmentImage(_ index: Int, slot k: Int, count b: Int, position: LoaderPosition, first: Int,
                              scratch: inout AugmentationScratch, out: UnsafeMutableBufferPointer<Float>, viewSize: Int) throws {
        var drawn: [AugmentationParameters] = []
        let pipeline = self.pipeline, views = pipeline.views
        let keys = (0..<views).map { [seed, UInt64(position.epoch), UInt64(first + k), UInt64($0)] }
        try source.withImage(at: index, scale: { h, w in
            drawn = keys.map { key in
                var random = AugmentationRandom(keys: key)
                return pipeline.draw(height: h, width: w, random: &random)
            }
            return pipeline.decodeScale(for: drawn, fullHeight: h, fullWidth: w)
        }) { image in
            let size = pipeline.outputSize(height: image.height, width: image.width)
            guard size.height == viewHeight, size.width == viewWidth, image.channels == viewChannels else {
                throw DatasetError(.badParameter, path: "",
                                   "image \(index) gives \(size.height)×\(size.width)×\(image.channels) views, the run uses \(viewHeight)×\(viewWidth)×\(viewChannels); end the augmentation with a fixed-size crop")
            }
            for view in 0..<views {
                let parameters = pipeline.mapped(drawn[view], fullHeight: image.fullHeight, fullWidth: image.fullWidth,
                                                 height: image.height, width: image.width)
                let slot = UnsafeMutableBufferPointer(rebasing: out[((view * b + k) * viewSize)..<((view * b + k + 1) * viewSize)])
                pipeline.apply(parameters, to: image.pixels, height: image.height, width: image.width, channels: image.channels,
                               scratch: &scratch, into: slot)
            }
        }
    }
}

/// A batch being prepared on the prefetch queue.
private final class PendingBatch: @unchecked Sendable {
    // @unchecked: `result` is written once before `done` is signalled and read only after waiting.
    let position: LoaderPosition
    private var result: Result<Batch, Error>?
    private let done = DispatchSemaphore(value: 0)

    init(position: LoaderPosition) { self.position = position }

    func finish(_ result: Result<Batch, Error>) {
        self.result = result
        done.signal()
    }

    func wait() -> Result<Batch, Error> {
        done.wait()
        done.signal()
        return result!
    }
}
