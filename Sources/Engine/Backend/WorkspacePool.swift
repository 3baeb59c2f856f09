import Synchronization

/// Kernel workspaces lent to ops for the length of one kernel call.
///
/// Ops are free functions of tensors, so they cannot own a workspace per layer; instead they
/// borrow one here and give it back. A training loop makes the same calls in the same order
/// every step, so after the first step every borrowed workspace is already large enough and no
/// kernel allocates. Concurrent callers get different workspaces.
enum WorkspacePool {
    private static let free = Mutex<[KernelWorkspace]>([])

    /// Runs `body` with a workspace no other call is using.
    static func with<R>(_ body: (KernelWorkspace) throws -> R) rethrows -> R {
        let workspace = free.withLock { $0.popLast() } ?? KernelWorkspace()
        defer { free.withLock { $0.append(workspace) } }
        return try body(workspace)
    }
}
