import Foundation
import PipelineDSL

/// `sbcl-run cache ls|verify|gc`.
enum CacheCommand {
    /// An entry's `environment` (what it was computed with) as `key=value` pairs in key order, or
    /// `-` when the manifest has none (entries written before it was recorded).
    static func environment(_ manifest: Manifest?) -> String {
        let pairs = (manifest?.environment ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return pairs.isEmpty ? "-" : pairs.joined(separator: ", ")
    }

    static func run(_ arguments: [String]) throws -> Int32 {
        let options = try Options.parse(Array(arguments.dropFirst()))
        guard options.positional.isEmpty else { throw UsageError("unexpected argument '\(options.positional[0])' after cache \(arguments.first ?? "")") }
        let cache = try options.cache(create: false)
        switch arguments.first {
        case "ls":
            let listings = cache.list()
            if options.json {
                CLI.output(ParamValue.list(listings.map { listing in
                    .map(["hash": .string(listing.hash), "kind": .string(listing.manifest?.kind ?? "?"),
                          "stage": .string(listing.manifest?.stageName ?? "?"), "bytes": .int(listing.bytes),
                          "created_at": .string(listing.manifest?.createdAt ?? "?"),
                          "environment": .map((listing.manifest?.environment ?? [:]).mapValues(ParamValue.string))])
                }).prettyJSON() + "\n")
            } else {
                let rows = listings.map { [String($0.hash.prefix(12)), $0.manifest?.kind ?? "?", $0.manifest?.stageName ?? "?",
                                           "\($0.bytes)", $0.manifest?.createdAt ?? "unreadable manifest", environment($0.manifest)] }
                CLI.output(Table.render(header: ["hash", "kind", "stage", "bytes", "created", "computed with"], rows: rows))
                CLI.output("\(listings.count) entries in \(cache.root.path)\n")
            }
            return ExitStatus.success
        case "verify":
            let damaged = cache.verifyAll()
            for entry in damaged { CLI.output("damaged \(entry.hash): \(entry.reason)\n") }
            CLI.output("\(cache.list().count) entries, \(damaged.count) damaged\(damaged.isEmpty ? "" : " (run 'sbcl-run cache gc' to remove them)")\n")
            return damaged.isEmpty ? ExitStatus.success : ExitStatus.failure
        case "gc":
            let report = try cache.collectGarbage(olderThan: options.olderThanDays.map { $0 * 86_400 })
            CLI.output("removed \(report.damaged.count) damaged and \(report.expired.count) expired entries, "
                       + "\(report.temporaries) temporary folders, \(report.checkpoints) stale checkpoints\n")
            return ExitStatus.success
        default:
            throw UsageError("expected 'cache ls', 'cache verify' or 'cache gc'\(arguments.first.map { ", found '\($0)'" } ?? "")")
        }
    }
}
