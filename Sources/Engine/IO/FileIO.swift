import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and atomic writes shared by the tensor file formats.
enum FileIO {
    /// The bytes of the file at `url`.
    /// - Throws: `TensorFileError.unreadable` naming the file and the system's reason.
    static func readAll(_ url: URL) throws -> [UInt8] {
        do {
            return [UInt8](try Data(contentsOf: url))
        } catch {
            let reason = FileManager.default.fileExists(atPath: url.path) ? "cannot read the file (\(error.localizedDescription))"
                                                                          : "no such file"
            throw TensorFileError(path: url.path, kind: .unreadable, message: reason)
        }
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
