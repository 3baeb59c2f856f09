import Foundation
import XCTest

/// Starting the built binaries under `mpirun` (Open MPI, which scripts/setup.sh test installs). A
/// missing `mpirun` fails the test that needs it (it is never silently skipped).
extension CLIHarness {
    /// The `mpirun` on the PATH.
    static func mpirun() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent("mpirun")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw MissingBinary(message: "mpirun not found on PATH; install Open MPI (scripts/setup.sh test installs openmpi-bin libopenmpi-dev)")
    }

    /// A binary built beside `sbcl-run` (e.g. `sbcl-bench`).
    static func sibling(_ name: String) throws -> URL {
        try binary().deletingLastPathComponent().appendingPathComponent(name)
    }

    /// Starts `mpirun -np ranks BINARY arguments` in the working folder (as root where the tests
    /// run so; ranks unbound, since several share the cores), with `tag` in every rank's
    /// environment as `SBCL_TEST_TAG` so a test can find its ranks' processes.
    func startMPI(ranks: Int, _ arguments: [String], binary: URL? = nil, tag: String = UUID().uuidString,
                  environment extra: [String: String] = [:]) throws -> (Process, URL, URL) {
        let process = Process()
        process.executableURL = try Self.mpirun()
        // No single-copy (CMA) transfers between ranks: containers often forbid the ptrace they need.
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", String(ranks),
                             "--mca", "btl_vader_single_copy_mechanism", "none",
                             "-x", "SBCL_CACHE_DIR", "-x", "SBCL_TEST_TAG"] + extra.keys.sorted().flatMap { ["-x", $0] }
                             + [try (binary ?? Self.binary()).path] + arguments
        process.currentDirectoryURL = folder
        var environment = ProcessInfo.processInfo.environment
        environment["SBCL_CACHE_DIR"] = cacheDirectory.path
        environment["SBCL_TEST_TAG"] = tag
        environment["SBCL_TEST_STAGES"] = nil
        environment.merge(extra) { _, new in new }
        process.environment = environment
        return try launch(process, tag: tag)
    }

    /// Runs `mpirun -np ranks BINARY arguments` to completion.
    func runMPI(ranks: Int, _ arguments: [String], binary: URL? = nil, environment: [String: String] = [:]) throws -> CLIResult {
        let (process, out, err) = try startMPI(ranks: ranks, arguments, binary: binary, environment: environment)
        process.waitUntilExit()
        return try collect(process, out, err)
    }

    /// Runs `binary arguments` (no launcher) to completion in the working folder, with `extra` added to its environment.
    func runProcess(_ binary: URL, _ arguments: [String], environment extra: [String: String] = [:]) throws -> CLIResult {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = folder
        if !extra.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(extra) { _, new in new } }
        let (_, out, err) = try launch(process, tag: UUID().uuidString)
        process.waitUntilExit()
        return try collect(process, out, err)
    }

    /// The process ids of the ranks started with `tag` whose MPI rank is `rank`.
    static func rankProcesses(tag: String, rank: Int) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { return nil }
            let variables = Set(data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
            return variables.contains("SBCL_TEST_TAG=\(tag)") && variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") ? pid : nil
        }
    }
}
