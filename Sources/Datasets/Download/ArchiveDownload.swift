import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Fetching an official archive when it is missing, checking its published MD5, and unpacking it
/// so that nothing half-written is ever left where a reader would take it for data.
public enum ArchiveDownload {
    /// Downloads `url` to `destination` unless a file with the right MD5 is already there.
    ///
    /// The bytes go to `destination.partial` first and are renamed into place only once their
    /// MD5 matches.
    ///
    /// - Throws: `.download` with what failed and which file to put where to work offline.
    public static func fetch(url: String, md5 expected: String, to destination: String, timeout: TimeInterval = 60) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: destination) {
            let existing = MD5.hex(try FileBytes.read(destination))
            if existing == expected { return }
            throw DatasetError(.download, path: destination,
                               "the file's MD5 is \(existing), expected \(expected): remove it or replace it with the archive from \(url)")
        }
        guard let remote = URL(string: url) else { throw DatasetError(.badParameter, path: "", "bad URL \(url)") }
        let offline = "put the archive from \(url) at \(destination) to work offline"
        let data: Data
        do {
            data = try httpGet(remote, timeout: timeout)
        } catch let error as DatasetError {
            throw DatasetError(.download, path: destination, "\(error.message); \(offline)")
        }
        let actual = MD5.hex(data)
        guard actual == expected else {
            throw DatasetError(.download, path: destination, "the download from \(url) has MD5 \(actual), expected \(expected); \(offline)")
        }
        try fm.createDirectory(atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let partial = destination + ".partial-\(ProcessInfo.processInfo.processIdentifier)"
        do {
            try data.write(to: URL(fileURLWithPath: partial))
            try? fm.removeItem(atPath: destination)
            try fm.moveItem(atPath: partial, toPath: destination)
        } catch {
            try? fm.removeItem(atPath: partial)
            throw DatasetError(.io, path: destination, "cannot write the downloaded archive: \(error.localizedDescription)")
        }
    }

    /// Unpacks a `.tar.gz` into a temporary folder inside `root`, then renames `folder` (a
    /// top-level folder of the archive) to `root/folder`.
    public static func unpack(archive: String, folder: String, into root: String) throws {
        let fm = FileManager.default
        let staging = root + "/.unpack-\(UUID().uuidString)"
        defer { try? fm.removeItem(atPath: staging) }
        try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
        try TarReader.extractGzipped(archive, to: staging)
        guard fm.fileExists(atPath: staging + "/" + folder) else {
            throw DatasetError(.badFormat, path: archive, "the archive has no folder \(folder)/")
        }
        do {
            try fm.moveItem(atPath: staging + "/" + folder, toPath: root + "/" + folder)
        } catch {
            if !fm.fileExists(atPath: root + "/" + folder) { // another process may have won the race
                throw DatasetError(.io, path: root + "/" + folder, "cannot move the unpacked folder into place: \(error.localizedDescription)")
            }
        }
    }

    /// A blocking HTTP(S) GET; non-2xx statuses and transport errors are thrown.
    static func httpGet(_ url: URL, timeout: TimeInterval) throws -> Data {
        final class Box: @unchecked Sendable { var data: Data?; var error: String? } // written before signal, read after wait
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        var request = URLRequest(url: url)
        request.timeoutInterval = timeout
        let task = URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                box.error = "download of \(url.absoluteString) failed: \(error.localizedDescription)"
            } else if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
                box.error = "download of \(url.absoluteString) failed: HTTP status \(http.statusCode)"
            } else {
                box.data = data ?? Data()
            }
            done.signal()
        }
        task.resume()
        done.wait()
        if let error = box.error { throw DatasetError(.download, path: "", error) }
        return box.data!
    }
}
