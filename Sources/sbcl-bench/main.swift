import Foundation

// The benchmarks live in `Bench` (Registry.swift): this file hands it the arguments and the
// environment (read here, once) and exits with its status.
exit(Bench.main(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment))
