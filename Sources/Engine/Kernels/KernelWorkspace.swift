/// A growable, 64-byte-aligned scratch buffer of floats; it reallocates only to grow.
final class ScratchBuffer {
    private(set) var pointer: UnsafeMutablePointer<Float>
    private(set) var capacity: Int

    init() {
        capacity = 16
        pointer = ScratchBuffer.allocate(16)
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
    }

    /// Makes room for `count` floats (contents are not kept) and returns the buffer.
    @discardableResult
    func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            UnsafeMutableRawPointer(pointer).deallocate()
            capacity = max(count, capacity * 2)
            pointer = ScratchBuffer.allocate(capacity)
        }
        return pointer
    }
}

/// Reusable scratch memory for the kernels: packed weights, per-thread padded images and partial sums.
///
/// Keep one per layer (or per thread of control) and pass it to every call: buffers grow to the
/// largest size asked for and are then reused, so a training step allocates nothing once warm.
/// A workspace must not be used by two kernel calls at the same time.
public final class KernelWorkspace {
    let packed = ScratchBuffer()
    private var perChunk: [ScratchBuffer] = []
    private var perChunkPartial: [ScratchBuffer] = []
    private var offsets: [UnsafeMutablePointer<Int>] = []
    private var offsetCapacity = 0
    private var doubles: [UnsafeMutablePointer<Double>] = []
    private var doubleCapacity = 0

    /// An empty workspace; memory is allocated on first use.
    public init() {}

    deinit {
        for p in offsets { p.deallocate() }
        for p in doubles { p.deallocate() }
    }

    /// Makes room for `chunks` Float64 partial-sum buffers of `count` values each (statistics).
    func prepareDoubles(chunks: Int, count: Int) {
        if count > doubleCapacity {
            for p in doubles { p.deallocate() }
            doubles = []
            doubleCapacity = max(count, 2 * doubleCapacity)
        }
        while doubles.count < chunks { doubles.append(.allocate(capacity: max(doubleCapacity, 1))) }
    }

    /// Chunk `chunk`'s Float64 partial sums, as sized by the last `prepareDoubles`.
    func doubles(_ chunk: Int) -> UnsafeMutablePointer<Double> { doubles[chunk] }

    /// Makes room for `chunks` chunks, each with `scratch` floats of scratch, `partial` floats of
    /// partial sums and `offsets` integer table entries. Call before `parallelChunks`; the body then
    /// reads its chunk's buffers with `scratch(_:)`, `partial(_:)` and `offsets(_:)`.
    func prepare(chunks: Int, scratch: Int, partial: Int = 0, offsets offsetCount: Int = 0) {
        while perChunk.count < chunks { perChunk.append(ScratchBuffer()) }
        while perChunkPartial.count < chunks { perChunkPartial.append(ScratchBuffer()) }
        for c in 0..<chunks {
            perChunk[c].reserve(scratch)
            perChunkPartial[c].reserve(partial)
        }
        if offsetCount > offsetCapacity {
            for p in offsets { p.deallocate() }
            offsets = []
            offsetCapacity = max(offsetCount, 2 * offsetCapacity)
        }
        while offsets.count < chunks { offsets.append(.allocate(capacity: max(offsetCapacity, 1))) }
    }

    /// Chunk `chunk`'s float scratch, as sized by the last `prepare`.
    func scratch(_ chunk: Int) -> UnsafeMutablePointer<Float> { perChunk[chunk].pointer }

    /// Chunk `chunk`'s partial-sum buffer, as sized by the last `prepare`.
    func partial(_ chunk: Int) -> UnsafeMutablePointer<Float> { perChunkPartial[chunk].pointer }

    /// Chunk `chunk`'s integer table, as sized by the last `prepare`.
    func offsets(_ chunk: Int) -> UnsafeMutablePointer<Int> { offsets[chunk] }
}
