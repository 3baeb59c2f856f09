import Foundation

/// The ranks of a data-parallel job (e.g. `mpirun -np N sbcl-run …`) as the executor sees them.
///
/// Rank 0 is the writer: it alone takes cache locks, writes cache entries, checkpoints, the run
/// folder and the log. The other ranks follow: they run the data-parallel stages with it (their
/// own output goes to a scratch folder that is thrown away) and read every entry rank 0 commits.
/// `MPITransport`'s communicator implements this; the pipeline knows nothing of MPI.
public protocol RankCoordinator: AnyObject, Sendable {
    /// This process's rank, 0 ..< `size`.
    var rank: Int { get }
    /// The number of ranks.
    var size: Int { get }
    /// Rank 0's `message` on every rank (the others' argument is ignored). A rank that waits does
    /// so without spinning on a core, as rank 0 may compute a stage alone for a long time.
    func shareFromFirstRank(_ message: [UInt8]) -> [UInt8]
}

/// What rank 0 tells the other ranks about one stage (or the run), as JSON.
struct RankMessage {
    /// `run` (the run folder), `cached`, `compute`, `committed` or `failed`.
    var action: String
    /// The stage it is about (empty for `run`).
    var stage = ""
    /// `compute`: whether the stage resumes from checkpoints.
    var resuming = false
    /// `run`: the run folder; `failed`: the error.
    var text = ""

    var bytes: [UInt8] {
        Array(ParamValue.map(["action": .string(action), "stage": .string(stage), "resuming": .bool(resuming),
                              "text": .string(text)]).canonicalJSON.utf8)
    }

    init(action: String, stage: String = "", resuming: Bool = false, text: String = "") {
        self.action = action
        self.stage = stage
        self.resuming = resuming
        self.text = text
    }

    init(bytes: [UInt8]) throws {
        guard let value = ParamValue.parseJSON(String(decoding: bytes, as: UTF8.self)), case .map(let fields) = value,
              let action = fields["action"]?.stringValue else {
            throw RunError("rank 0 sent a message this rank cannot read (\(bytes.count) bytes); are all ranks the same sbcl-run?")
        }
        self.action = action
        stage = fields["stage"]?.stringValue ?? ""
        resuming = fields["resuming"]?.boolValue ?? false
        text = fields["text"]?.stringValue ?? ""
    }
}
