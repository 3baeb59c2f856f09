/// One training batch: the augmented views, channels last, plus what they came from.
public struct Batch: Sendable {
    /// (views · B) × H × W × C normalised values; rows 0..<B are view 0 of the B images, rows
    /// B..<2B view 1 (the reference's `torch.cat([images[0], images[1]])`). For a rank of a
    /// data-parallel job only the images of `rows` are here: (views · |rows|) × H × W × C, view-major.
    public var images: [Float]
    /// The label of each of the B images (not repeated per view).
    public var labels: [Int32]
    /// The index in the source data set of each of the B images.
    public var indices: [Int]
    /// Views per image (1 or 2).
    public var views: Int
    /// Images in this batch, B (the last batch of an epoch may be smaller).
    public var batchSize: Int
    /// View height.
    public var height: Int
    /// View width.
    public var width: Int
    /// View channels.
    public var channels: Int
    /// Where in the run this batch lies.
    public var position: LoaderPosition
    /// The images of the batch whose views `images` holds (this rank's contiguous slice of the
    /// global batch); nil: all B. `labels`, `indices` and `batchSize` always describe all B.
    public var shard: Range<Int>?

    /// A batch of `views` views of `batchSize` images, of which `images` holds the rows `shard`
    /// (nil: all); the loader makes them, benchmarks and tests may make their own.
    public init(images: [Float], labels: [Int32], indices: [Int], views: Int, batchSize: Int, height: Int, width: Int,
                channels: Int, position: LoaderPosition, shard: Range<Int>? = nil) {
        self.images = images
        self.labels = labels
        self.indices = indices
        self.views = views
        self.batchSize = batchSize
        self.height = height
        self.width = width
        self.channels = channels
        self.position = position
        self.shard = shard
    }

    /// The images of the batch whose views `images` holds: `shard`, or all B.
    public var rows: Range<Int> { shard ?? 0..<batchSize }

    /// The shape of `images`: [views · |rows|, H, W, C].
    public var shape: [Int] { [views * rows.count, height, width, channels] }
}

/// A point in the stream of batches: batch `step` (0-based) of epoch `epoch` (0-based). Saving it
/// is all a checkpoint needs to resume the loader bit-identically.
public struct LoaderPosition: Sendable, Equatable, Hashable, Codable {
    /// The epoch, from 0.
    public var epoch: Int
    /// The batch within the epoch, from 0.
    public var step: Int

    /// A position.
    public init(epoch: Int, step: Int) {
        self.epoch = epoch
        self.step = step
    }
}
