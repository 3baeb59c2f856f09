import Foundation

// The whole CLI lives in `CLI`; this file only hands it the arguments and exits with its status
// (through `RankJob`, which ends a data-parallel job's ranks together).
signal(SIGPIPE, SIG_IGN)
RankJob.exit(CLI.main(Array(CommandLine.arguments.dropFirst())))
