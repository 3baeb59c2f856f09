import ArgumentParser
import Foundation
import PipelineDSL

/// `sbcl-run cache ls|verify|gc`.
struct CacheCommand: CLICommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "List, verify or clean the artifact cache.",
        subcommands: [List.self, Verify.self, Collect.self])

    func run(_ configuration: Configuration) throws -> Int32 {
        throw UsageError("expected 'cache ls', 'cache verify' or 'cache gc'")
    }

    /// An entry's `environment` (what it was computed with) as `key=value` pairs in key order, or
    /// `-` when the manifest has none (entries written before it was recorded).
    static func environment(_ manifest: Manifest?) -> String {
        let pairs = (manifest?.environment ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return pairs.isEmpty ? "-" : pairs.joined(separator: ", ")
    }

    /// `cache ls`: every entry, oldest first.
    struct List: CLICommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the cache's entries, oldest first.")

        @OptionGroup var cacheOption: CacheOption

        @Flag(help: "Machine-readable output.")
        var json = false

        func run(_ configuration: Configuration) throws -> Int32 {
            let cache = try cacheOption.cache(configuration, create: false)
            let listings = cache.list()
            if json {
                CLI.output(ParamValue.list(listings.map { listing in
                    .map(["hash": .string(listing.hash), "kind": .string(listing.manifest?.kind ?? "?"),
                          "stage": .string(listing.manifest?.stageName ?? "?"), "bytes": .int(listing.bytes),
                          "created_at": .string(listing.manifest?.createdAt ?? "?"),
                          "environment": .map((listing.manifest?.environment ?? [:]).mapValues(ParamValue.string))])
                }).prettyJSON() + "\n")
            } else {
                let rows = listings.map { [String($0.hash.prefix(12)), $0.manifest?.kind ?? "?", $0.manifest?.stageName ?? "?",
                                           "\($0.bytes)", $0.manifest?.createdAt ?? "unreadable manifest", CacheCommand.environment($0.manifest)] }
                CLI.output(Table.render(header: ["hash", "kind", "stage", "bytes", "created", "computed with"], rows: rows))
                CLI.output("\(listings.count) entries in \(cache.root.path)\n")
            }
            return ExitStatus.success
        }
    }

    /// `cache verify`: checks every entry's files against its manifest; exit status 1 when one is damaged.
    struct Verify: CLICommand {
        static let configuration = CommandConfiguration(
            commandName: "verify", abstract: "Check every entry's files against its manifest (exit status 1 when one is damaged).")

        @OptionGroup var cacheOption: CacheOption

        func run(_ configuration: Configuration) throws -> Int32 {
            let cache = try cacheOption.cache(configuration, create: false)
            let damaged = cache.verifyAll()
            for entry in damaged { CLI.output("damaged \(entry.hash): \(entry.reason)\n") }
            let checkpoints = cache.verifyCheckpoints()
            for entry in checkpoints { CLI.output("damaged checkpoint \(entry.hash): \(entry.reason)\n") }
            let count = damaged.count + checkpoints.count
            CLI.output("\(cache.list().count) entries, \(damaged.count) damaged; \(checkpoints.count) damaged checkpoint\(checkpoints.count == 1 ? "" : "s")"
                       + "\(count == 0 ? "" : " (run 'sbcl-run cache gc' to remove them)")\n")
            return count == 0 ? ExitStatus.success : ExitStatus.failure
        }
    }

    /// `cache gc`: removes damaged entries, leftovers and, with `--older-than`, old entries.
    struct Collect: CLICommand {
        static let configuration = CommandConfiguration(
            commandName: "gc", abstract: "Remove damaged entries, temporary folders, stale checkpoints and, with --older-than, old entries.")

        @OptionGroup var cacheOption: CacheOption

        @Option(name: .customLong("older-than"), help: ArgumentHelp("Also remove entries older than this many days.", valueName: "days"),
                transform: OptionValue.days)
        var olderThanDays: Double?

        func run(_ configuration: Configuration) throws -> Int32 {
            let cache = try cacheOption.cache(configuration, create: false)
            let report = try cache.collectGarbage(olderThan: olderThanDays.map { $0 * 86_400 })
            CLI.output("removed \(report.damaged.count) damaged and \(report.expired.count) expired entries, "
                       + "\(report.temporaries) temporary folders, \(report.checkpoints) stale checkpoints, \(report.leases) dead leases\n")
            return ExitStatus.success
        }
    }
}
