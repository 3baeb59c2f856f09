/// How batch norm's per-channel sums split a `[rows, channels]` tensor among work-groups
/// (`sbcl_bn_partial_sums`, then `sbcl_bn_finish`): slices of whole rows, about 16,384 elements
/// each, at most 1,024 slices. Both GPU backends launch it the same way.
package struct BatchNormSlices: Equatable, Sendable {
    /// Work-groups, one per slice.
    package let slices: Int
    /// Rows in each slice (the last may have fewer).
    package let rowsPerSlice: Int
    /// Work items per group: the backend's row width (a power of two, at most 256).
    package let width: Int

    /// The partial sums' floats: two per channel per slice.
    package func partialCount(channels: Int) -> Int { slices * 2 * channels }
    /// The local memory a group needs, in bytes (two floats per work item).
    package var localBytes: Int { width * 2 * 4 }

    /// The split of `rows` rows of `channels` channels over groups of `width` work items.
    package init(rows: Int, channels: Int, width: Int) {
        let elements = Swift.max(1, rows) * Swift.max(1, channels)
        let wanted = Swift.min(1024, Swift.max(1, elements / 16_384), Swift.max(1, rows))
        rowsPerSlice = (Swift.max(1, rows) + wanted - 1) / wanted
        slices = (Swift.max(1, rows) + rowsPerSlice - 1) / rowsPerSlice
        self.width = width
    }
}
