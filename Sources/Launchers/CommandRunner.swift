import Foundation
import PipelineDSL

/// Runs Slurm's commands (found on `PATH`) and collects what they print.
public struct CommandRunner: Sendable {
    /// What a command printed and its exit status.
    public struct Result: Sendable {
        /// The exit status.
        public var status: Int32
        /// Standard output and standard error, as text.
        public var stdout: String, stderr: String
    }

    /// The `PATH` searched.
    public var path: String

    /// A runner searching `path` (the executable passes its `PATH`).
    public init(path: String) { self.path = path }

    /// The executable `name` on the `PATH`, or nil.
    public func locate(_ name: String) -> URL? {
        path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Runs `command` (its first word looked up on the `PATH`) to completion.
    public func run(_ command: [String]) throws -> Result {
        guard let name = command.first, let executable = locate(name) else {
            throw RunError("\(command.first ?? "") not found on PATH: the Slurm launcher needs Slurm's commands "
                           + "(sbatch, squeue); run on a node where they are installed, or use --launcher local")
        }
        // Output goes to files, not pipes, so a long listing can never fill a pipe and stall both sides.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-\(name)-\(UUID().uuidString)")
        let out = scratch.appendingPathExtension("out"), err = scratch.appendingPathExtension("err")
        defer { for file in [out, err] { try? FileManager.default.removeItem(at: file) } }
        let process = Process()
        process.executableURL = executable
        process.arguments = Array(command.dropFirst())
        do {
            for file in [out, err] { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
            process.standardOutput = try FileHandle(forWritingTo: out)
            process.standardError = try FileHandle(forWritingTo: err)
            process.standardInput = FileHandle.nullDevice
            try process.run()
        } catch {
            throw RunError("cannot run \(executable.path): \(error.localizedDescription)")
        }
        process.waitUntilExit()
        func text(_ url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }
        return Result(status: process.terminationStatus, stdout: text(out), stderr: text(err))
    }
}
