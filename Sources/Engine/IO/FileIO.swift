import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and atomic writes shared by the tensor file formats.
enum FileIO {
    /// The largest tensor file read: far above any model here (a ResNet-50 is 100 MB), far below
    /// what a file that never ends would fill.
    static let maxFileBytes = 64 << 30

    /// The bytes of the file at `url`: a regular file only (links followed), so that a FIFO or a
    /// device named by mistake is refused instead of read forever.
    /// - Throws: `TensorFileError.unreadable` naming the file and the system's reason.
    static func readAll(_ url: URL) throws -> [UInt8] {
        func fail(_ reason: String) -> TensorFileError { TensorFileError(path: url.path, kind: .unreadable, message: reason) }
        // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting forever.
        let fd = open(url.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw fail(code == ENOENT || code == ENOTDIR ? "no such file" : "cannot read the file (\(String(cString: strerror(code))))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw fail("cannot read the file (\(String(cString: strerror(errno))))") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw fail("not a regular file (a folder, FIFO or device); only regular files are read")
        }
        let size = Int(info.st_size)
        guard size <= maxFileBytes else { throw fail("the file holds \(size) bytes, more than the limit of \(maxFileBytes)") }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let got = bytes.withUnsafeMutableBytes { raw -> Int in
                #if canImport(Glibc)
                return Glibc.read(fd, raw.baseAddress! + done, size - done)
                #else
                return Darwin.read(fd, raw.baseAddress! + done, size - done)
                #endif
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw fail("cannot read the file (\(String(cString: strerror(errno))))")
            }
            if got == 0 { break }
            done += got
        }
        if done < size { bytes.removeLast(size - done) }
        return bytes
    }

    /// Writes `chunks` one after another to a temporary file beside `url`, then renames it over
    /// `url`, so a reader never sees a half-written file and a crash leaves the old one intact.
    /// - Throws: `TensorFileError.unwritable`.
    static func writeAtomically(_ chunks: [[UInt8]], to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        func fail(_ why: String) -> TensorFileError {
            TensorFileError(path: url.path, kind: .unwritable, message: why)
        }
        guard let handle = fopen(temporary.path, "wb") else {
            throw fail("cannot create a temporary file in \(directory.path) (\(String(cString: strerror(errno))))")
        }
        var ok = true
        for chunk in chunks where !chunk.isEmpty {
            let written = chunk.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, handle) }
            if written != chunk.count { ok = false; break }
        }
        if fflush(handle) != 0 { ok = false }
        if fsync(fileno(handle)) != 0 { ok = false }
        let reason = String(cString: strerror(errno))
        fclose(handle)
        guard ok else {
            unlink(temporary.path)
            throw fail("writing failed (\(reason))")
        }
        guard rename(temporary.path, url.path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(temporary.path)
            throw fail("cannot move the finished file into place (\(why))")
        }
    }
}
