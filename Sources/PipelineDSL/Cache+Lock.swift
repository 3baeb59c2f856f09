import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ArtifactCache {
    /// Runs `body` holding the exclusive lock of entry `hash` (an `flock` on `locks/<hash>.lock`).
    ///
    /// The kernel drops the lock when the holder exits, even by SIGKILL, so a crashed run never
    /// blocks the next one. `onWait` is called once if another process holds the lock.
    public func withLock<T>(_ hash: String, onWait: () -> Void = {}, _ body: () throws -> T) throws -> T {
        let path = root.appendingPathComponent("locks/\(hash).lock").path
        let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw RunError("cannot open the cache lock \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK else {
                throw RunError("cannot lock \(path): \(String(cString: strerror(errno)))")
            }
            onWait()
            while flock(descriptor, LOCK_EX) != 0 {
                guard errno == EINTR else { throw RunError("cannot lock \(path): \(String(cString: strerror(errno)))") }
            }
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    /// Whether some process holds the lock of `hash` right now.
    public func isLocked(_ hash: String) -> Bool {
        let path = root.appendingPathComponent("locks/\(hash).lock").path
        let descriptor = open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 {
            flock(descriptor, LOCK_UN)
            return false
        }
        return true
    }
}
