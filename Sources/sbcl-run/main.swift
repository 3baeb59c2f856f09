import Foundation

// The whole CLI lives in `CLI`: this file hands it the arguments and the environment (read here,
// once) and exits with its status (through `RankJob`, which ends a data-parallel job's ranks together).
signal(SIGPIPE, SIG_IGN)
RankJob.exit(CLI.main(Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment))
