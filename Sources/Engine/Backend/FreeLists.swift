/// Freed blocks kept by their rounded size for reuse: the allocation pool of a backend (host memory
/// on the CPU, buffer handles on a device). Not synchronised; a backend keeps it behind its `Mutex`.
public struct FreeLists {
    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    /// The bytes held for reuse.
    public private(set) var pooledBytes = 0

    public init() {}

    /// A kept block of exactly `size` bytes, or nil.
    public mutating func take(size: Int) -> UnsafeMutableRawPointer? {
        guard var list = free[size], let block = list.popLast() else { return nil }
        free[size] = list
        pooledBytes -= size
        return block
    }

    /// Keeps `block` (`size` bytes) unless that would hold more than `limit` bytes; false when the
    /// caller must free it itself.
    public mutating func keep(_ block: UnsafeMutableRawPointer, size: Int, limit: Int) -> Bool {
        guard pooledBytes + size <= limit else { return false }
        free[size, default: []].append(block)
        pooledBytes += size
        return true
    }

    /// Every kept block with its size, the lists emptied.
    public mutating func removeAll() -> [(block: UnsafeMutableRawPointer, size: Int)] {
        let all = free.flatMap { size, list in list.map { (block: $0, size: size) } }
        free = [:]
        pooledBytes = 0
        return all
    }
}
