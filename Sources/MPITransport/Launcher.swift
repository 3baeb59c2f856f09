/// Whether a launcher started this process as one of several ranks, read from the environment
/// the launchers set: Open MPI's `mpirun` (`OMPI_COMM_WORLD_SIZE`), a PMIx launcher (`PMIX_RANK`),
/// or Slurm's `srun` (`SLURM_STEP_ID` with `SLURM_NTASKS`). A plain `sbcl-run` sees none of them and
/// never loads MPI.
package enum Launcher {
    /// What the environment says about the job.
    package struct Job: Equatable, Sendable {
        /// The launcher, for messages: `mpirun`, `pmix` or `srun`.
        package var name: String
        /// The number of ranks the launcher announced; nil when it does not say (PMIx alone).
        package var size: Int?
    }

    /// The job this process belongs to, or nil when no launcher started several ranks.
    package static func detect(_ environment: [String: String]) -> Job? {
        if let size = environment["OMPI_COMM_WORLD_SIZE"].flatMap(Int.init) {
            return size > 1 ? Job(name: "mpirun", size: size) : nil
        }
        if environment["SLURM_STEP_ID"] != nil, let size = environment["SLURM_NTASKS"].flatMap(Int.init) {
            return size > 1 ? Job(name: "srun", size: size) : nil
        }
        if environment["PMIX_RANK"] != nil { return Job(name: "pmix", size: nil) }
        return nil
    }
}
