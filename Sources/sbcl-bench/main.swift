import Foundation
import OpenCLBackend
import CUDABackend

/// `sbcl-bench SUBCOMMAND [options]`: benchmarks that print one JSON line each.
/// Each subcommand lives in its own file (`StepBench.swift`, `InferBench.swift`, `LoaderBench.swift`).
let benchmarks: [String: ([String]) throws -> Void] = registeredBenchmarks()

// The GPU backend is a module of its own; `step --device opencl` opens it.
OpenCLBackend.register()
CUDABackend.register(environment: ProcessInfo.processInfo.environment)

let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, let bench = benchmarks[name] else {
    let names = benchmarks.keys.sorted().joined(separator: "|")
    FileHandle.standardError.write("usage: sbcl-bench \(names) [options] [--json]\n".data(using: .utf8)!)
    exit(2)
}
do {
    try bench(Array(arguments.dropFirst()))
} catch {
    FileHandle.standardError.write("sbcl-bench \(name): \(error)\n".data(using: .utf8)!)
    exit(1)
}
