import Foundation
import MPITransport
import PipelineDSL

/// The data-parallel job this process belongs to, when a launcher (mpirun, srun) started it as one
/// of several ranks; a plain `sbcl-run` has none and never loads MPI.
enum RankJob {
    /// The job's communicator once joined.
    nonisolated(unsafe) private(set) static var current: MPICommunicator?

    /// Joins the launcher's job (loading Open MPI, `SBCL_MPI_LIBRARY` else `libmpi.so.40`) if
    /// the environment says there is one; nil on a plain run.
    static func join(_ configuration: Configuration) throws -> MPICommunicator? {
        if let current { return current }
        guard let job = Launcher.detect(configuration.environment) else { return nil }
        current = try MPICommunicator.start(job, library: configuration.mpiLibrary, localRank: configuration.localRank)
        return current
    }

    /// Whether this process is a rank other than 0 (which prints nothing but its errors).
    static var isFollower: Bool { (current?.rank ?? 0) != 0 }

    /// Ends the process with `status`: after an error on any rank of a job the whole job ends
    /// (MPI_Abort), so no rank waits forever in a collective; a successful rank finalises MPI.
    static func exit(_ status: Int32) -> Never {
        if let current {
            if status != ExitStatus.success && current.size > 1 {
                current.abort(status: status)
            } else {
                current.finish()
            }
        }
        Foundation.exit(status)
    }
}
