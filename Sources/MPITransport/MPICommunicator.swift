import CMPI
import Engine
import Foundation
import PipelineDSL

/// The ranks of an MPI job over Open MPI, loaded at run time (`dlopen` of `libmpi.so.40`, or the
/// library the executable names, from `SBCL_MPI_LIBRARY`): the engine's collectives for data-parallel training and the
/// executor's rank coordination.
///
/// One per process, made by `start`; every call comes from the thread that made it (MPI is
/// initialised at the FUNNELED level).
package final class MPICommunicator: Communicator, RankCoordinator, @unchecked Sendable {
    // @unchecked: no mutable state; MPI calls come from the initialising thread only.
    package let rank: Int
    package let size: Int
    /// This rank's index on its machine, as the executable read it from the launcher
    /// (`OMPI_COMM_WORLD_LOCAL_RANK`, `SLURM_LOCALID`); 0 when unknown.
    package let localRank: Int

    /// How often a rank waiting in `shareFromFirstRank` polls (it sleeps in between).
    static let pollMicroseconds: Int32 = 2000

    private init(rank: Int, size: Int, localRank: Int) {
        self.rank = rank
        self.size = size
        self.localRank = localRank
    }

    /// Loads Open MPI (`library`, else `libmpi.so.40`) and joins the job that `job` describes;
    /// `localRank` is this rank's index on its machine, which the executable read from the launcher.
    ///
    /// - Throws: `RunError` with a sentence a user can act on when the library cannot be loaded, MPI
    ///   does not start, or it sees a different number of ranks than the launcher announced.
    package static func start(_ job: Launcher.Job, library: String?, localRank: Int = 0) throws -> MPICommunicator {
        let path = library.flatMap { $0.isEmpty ? nil : $0 } ?? "libmpi.so.40"
        var error = [CChar](repeating: 0, count: 512)
        guard sbcl_mpi_load(path, &error, error.count) == 0 else {
            let reason = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw RunError("started by \(job.name) with \(job.size.map(String.init) ?? "several") ranks, but Open MPI is unusable: \(reason); "
                           + "install openmpi-bin and libopenmpi3 (scripts/setup.sh test does), or set SBCL_MPI_LIBRARY to libmpi.so.40's path")
        }
        guard sbcl_mpi_init() == 0 else { throw RunError("MPI_Init failed under \(job.name)") }
        let communicator = MPICommunicator(rank: Int(sbcl_mpi_rank()), size: Int(sbcl_mpi_size()), localRank: localRank)
        if let expected = job.size, expected != communicator.size {
            throw RunError("\(job.name) started \(expected) ranks but MPI sees \(communicator.size); "
                           + (job.name == "srun" ? "run srun with --mpi=pmix so the ranks join one MPI job" : "check the launcher"))
        }
        return communicator
    }

    /// Ends MPI after a successful run (every rank must call it).
    package func finish() { _ = sbcl_mpi_finalize() }

    /// Ends every rank of the job with `status` at once (an error on one rank must not leave the
    /// others waiting in a collective). MPI ends the processes; the caller exits should it return.
    package func abort(status: Int32) {
        sbcl_mpi_abort(status)
    }

    package func allReduceSum(_ values: UnsafeMutableBufferPointer<Float>) {
        check(sbcl_mpi_allreduce_sum_float(values.baseAddress, Int32(values.count)), "MPI_Allreduce")
    }

    package func allGather(_ local: UnsafeRawBufferPointer, counts: [Int], into output: UnsafeMutableRawBufferPointer) {
        precondition(counts.count == size && counts[rank] == local.count && output.count == counts.reduce(0, +),
                     "MPICommunicator.allGather: \(local.count) bytes on rank \(rank), counts \(counts), output \(output.count)")
        var displacements = [Int32](repeating: 0, count: size)
        for r in 1..<max(size, 1) { displacements[r] = displacements[r - 1] + Int32(counts[r - 1]) }
        let counts32 = counts.map { Int32($0) }
        // MPI wants a non-null buffer even for zero bytes.
        var empty: UInt8 = 0
        withUnsafeMutablePointer(to: &empty) { placeholder in
            check(sbcl_mpi_allgatherv_bytes(local.baseAddress ?? UnsafeRawPointer(placeholder), Int32(local.count),
                                            output.baseAddress ?? UnsafeMutableRawPointer(placeholder), counts32, displacements),
                  "MPI_Allgatherv")
        }
    }

    package func broadcast(_ buffer: UnsafeMutableRawBufferPointer, from root: Int) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        check(sbcl_mpi_broadcast_bytes(base, Int32(buffer.count), Int32(root), Self.pollMicroseconds), "MPI_Ibcast")
    }

    package func shareFromFirstRank(_ message: [UInt8]) -> [UInt8] {
        var length = UInt64(rank == 0 ? message.count : 0)
        withUnsafeMutableBytes(of: &length) { broadcast($0, from: 0) }
        var bytes = rank == 0 ? message : [UInt8](repeating: 0, count: Int(length))
        bytes.withUnsafeMutableBytes { broadcast($0, from: 0) }
        return bytes
    }

    /// Seconds on MPI's clock (for timing collectives).
    package static func wallTime() -> Double { sbcl_mpi_wtime() }

    /// MPI's default error handler ends the job on a failed call, so a non-zero status here means
    /// a handler was changed; treat it as the programmer error it is.
    private func check(_ status: Int32, _ call: String) {
        precondition(status == 0, "\(call) failed with status \(status) on rank \(rank)")
    }
}
