import Foundation

// The whole CLI lives in `CLI`; this file only hands it the arguments and exits with its status.
signal(SIGPIPE, SIG_IGN)
exit(CLI.main(Array(CommandLine.arguments.dropFirst())))
