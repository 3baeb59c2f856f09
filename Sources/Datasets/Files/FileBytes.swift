#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading whole files with errors that name them: regular files only (a FIFO or a device named
/// by a split line would make a read block or never end), at most `ImageLimits.maxFileBytes`, by
/// their bytes (`POSIXName`) so that no name is lost to decoding.
enum FileBytes {
    /// The contents of `path`; `DatasetError.missingFile` when it does not exist,
    /// `.notRegularFile` when it is not a regular file (after following links), `.tooLarge` when
    /// it holds more than `limits.maxFileBytes`, `.io` when it cannot be read.
    static func read(_ path: String, limits: ImageLimits = .process) throws -> [UInt8] {
        try read(path, limits: limits, prefix: nil)
    }

    /// At most the first `count` bytes of `path`, with `read`'s checks.
    static func prefix(_ path: String, count: Int, limits: ImageLimits = .process) throws -> [UInt8] {
        try read(path, limits: limits, prefix: count)
    }

    private static func read(_ path: String, limits: ImageLimits, prefix: Int?) throws -> [UInt8] {
        // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting forever.
        let fd = POSIXName.withCString(path) { open($0, O_RDONLY | O_NONBLOCK | O_CLOEXEC) }
        guard fd >= 0 else { throw openError(path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw DatasetError(.io, path: path, "cannot read the file: \(reason(errno))") }
        try checkRegular(path, mode: info.st_mode, size: Int(info.st_size), limits: limits)
        let size = Int(info.st_size)
        let wanted = min(size, prefix ?? size)
        var bytes = [UInt8](repeating: 0, count: wanted)
        var done = 0
        while done < wanted {
            let got = bytes.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress! + done, wanted - done) }
            if got < 0 {
                if errno == EINTR { continue }
                throw DatasetError(.io, path: path, "cannot read the file: \(reason(errno))")
            }
            if got == 0 { break }  // shrank while we read: what is there
            done += got
        }
        if done < wanted { bytes.removeLast(wanted - done) }
        return bytes
    }

    /// Reads `path` in pieces of at most `chunk` bytes, handing each to `body`, with `read`'s
    /// checks (a regular file of at most `limits.maxFileBytes`).
    static func stream(_ path: String, limits: ImageLimits = .process, chunk: Int = 4 << 20, _ body: ([UInt8]) -> Void) throws {
        let fd = POSIXName.withCString(path) { open($0, O_RDONLY | O_NONBLOCK | O_CLOEXEC) }
        guard fd >= 0 else { throw openError(path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw DatasetError(.io, path: path, "cannot read the file: \(reason(errno))") }
        try checkRegular(path, mode: info.st_mode, size: Int(info.st_size), limits: limits)
        var buffer = [UInt8](repeating: 0, count: chunk)
        var total = 0
        while true {
            let got = buffer.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress!, chunk) }
            if got < 0 {
                if errno == EINTR { continue }
                throw DatasetError(.io, path: path, "cannot read the file: \(reason(errno))")
            }
            if got == 0 { break }
            total += got
            guard total <= limits.maxFileBytes else {
                throw DatasetError(.tooLarge, path: path, "the file grows past the limit of \(limits.maxFileBytes) bytes while it is read")
            }
            body(got == chunk ? buffer : Array(buffer[0..<got]))
        }
    }

    /// The size in bytes and the modification time (seconds since 1970) of `path`, links followed.
    static func sizeAndModification(_ path: String) -> Result<(size: Int64, modified: Double), DatasetError> {
        status(path).map { info in
            #if canImport(Darwin)
            let time = info.st_mtimespec
            #else
            let time = info.st_mtim
            #endif
            return (Int64(info.st_size), Double(time.tv_sec) + Double(time.tv_nsec) / 1e9)
        }
    }

    private static func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.read(fd, buffer, count)
        #else
        return Darwin.read(fd, buffer, count)
        #endif
    }

    /// The error for a failed `open`/`stat`: missing, or the system's reason.
    static func openError(_ path: String, errno code: Int32) -> DatasetError {
        if code == ENOENT || code == ENOTDIR { return DatasetError(.missingFile, path: path, "file not found") }
        return DatasetError(.io, path: path, "cannot open the file: \(reason(code))")
    }

    /// Throws unless `mode` is a regular file of at most `limits.maxFileBytes`.
    static func checkRegular(_ path: String, mode: mode_t, size: Int, limits: ImageLimits) throws {
        guard mode & S_IFMT == S_IFREG else {
            throw DatasetError(.notRegularFile, path: path, "is \(kind(mode)), not a regular file; only regular files are read (a FIFO or a device would never end)")
        }
        guard size <= limits.maxFileBytes else {
            throw DatasetError(.tooLarge, path: path, "the file holds \(size) bytes, more than the limit of \(limits.maxFileBytes) bytes")
        }
    }

    /// "a FIFO", "a character device", … for messages.
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFDIR: return "a folder"
        case S_IFSOCK: return "a socket"
        case S_IFLNK: return "a symbolic link"
        default: return "a regular file"
        }
    }

    /// The system's text for `code`.
    static func reason(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// `stat` (following links) of `path`, or the errno.
    static func status(_ path: String) -> Result<stat, DatasetError> {
        var info = stat()
        let ok = POSIXName.withCString(path) { stat($0, &info) } == 0
        return ok ? .success(info) : .failure(openError(path, errno: errno))
    }

    /// The canonical absolute path of `path` with every link resolved (`realpath`), or the error.
    static func resolved(_ path: String) throws -> String {
        guard let result = POSIXName.withCString(path, { realpath($0, nil) }) else { throw openError(path, errno: errno) }
        defer { free(result) }
        let length = strlen(result)
        return POSIXName.string(UnsafeBufferPointer(start: UnsafeRawPointer(result).assumingMemoryBound(to: UInt8.self), count: length))
    }

    /// Whether the canonical path `resolved` lies inside the canonical folder `root`.
    static func isInside(_ resolved: String, root: String) -> Bool {
        let r = POSIXName.bytes(of: root), p = POSIXName.bytes(of: resolved)
        if r == [UInt8(ascii: "/")] { return p.first == UInt8(ascii: "/") }
        return p.count > r.count && Array(p[0..<r.count]) == r && p[r.count] == UInt8(ascii: "/")
    }

    /// The contents of `path`, inflated when it starts with the gzip magic bytes `1f 8b` (to at
    /// most `limits.maxFileBytes`).
    static func readMaybeGzipped(_ path: String, limits: ImageLimits = .process) throws -> [UInt8] {
        let raw = try read(path, limits: limits)
        if raw.count >= 2, raw[0] == 0x1f, raw[1] == 0x8b {
            return try Gzip.inflate(raw, path: path, maxOutput: limits.maxFileBytes)
        }
        return raw
    }

    /// A big-endian 32-bit word at `offset`.
    static func bigEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}

extension Result {
    /// Whether it holds a value.
    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
