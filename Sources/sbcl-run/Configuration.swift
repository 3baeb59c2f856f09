import Datasets
import Engine
import Foundation
import PipelineDSL
import Stages

/// Everything `sbcl-run` takes from its environment, read once at start into plain values and
/// handed down: the libraries read no environment variable (README, "Environment variables").
struct Configuration {
    /// The environment as the process got it: the data-parallel launchers' variables are read
    /// from it (`Launcher.detect`).
    let environment: [String: String]
    /// The folder relative paths are resolved against.
    let workingDirectory: URL
    /// `SBCL_KERNELS` and `SBCL_CONV`: the convolution kernels the CPU backend runs.
    let convKernels: ConvKernels
    /// `SBCL_MEMORY_LIMIT`, else the machine's memory (cgroup limit included).
    let memoryLimit: Int
    /// `SBCL_LOCK_STALE_SECONDS`: when a silent cache lock is reclaimed.
    let lockPolicy: LockPolicy
    /// `SBCL_CACHE_DIR`: the cache folder when `--cache-dir` is not given.
    let cacheDirectory: String?
    /// `SBCL_DIGEST_CACHE`: where per-file source digests are remembered (default: in the cache folder).
    let digestCache: String?
    /// `SBCL_OPENCL_LIBRARY`: another OpenCL ICD loader than `libOpenCL.so.1`.
    let openCLLibrary: String?
    /// `SBCL_OPENCL_PROFILE=1`: time every OpenCL launch.
    let openCLProfiling: Bool
    /// `SBCL_MPI_LIBRARY`: another Open MPI library than `libmpi.so.40`.
    let mpiLibrary: String?
    /// `OMPI_COMM_WORLD_LOCAL_RANK`, else `SLURM_LOCALID`, else 0: this rank's index on its machine
    /// (a data-parallel rank on `cuda` takes the GPU of this index modulo their number).
    let localRank: Int
    /// `SBCL_TEST_STAGES=1`: register the test stage kinds.
    let testStages: Bool
    /// `SBCL_TEST_RUN_LOG`, `SBCL_TEST_HANG_AT_STEP`: what tests ask of the test kinds.
    let testHooks: TestStageKinds.Hooks
    /// `SBCL_ENCODER_STOP_AFTER_EPOCH`: the encoder stops after this epoch (tests of resuming).
    let stopAfterEpoch: Int?
    /// `SLURM_CPUS_PER_TASK`: the CPUs Slurm gave this task (the default thread count there).
    let slurmCPUsPerTask: Int?
    /// `PATH`: where Slurm's commands are looked for.
    let path: String
    /// `SBCL_MAX_IMAGE_PIXELS`: the most pixels an image header may claim (docs/hostile-inputs.md).
    let imageLimits: ImageLimits

    /// Reads `environment`; a value that cannot be used ends the command with one sentence naming it.
    ///
    /// - Throws: `KernelSetError` (`SBCL_KERNELS`, `SBCL_CONV`), `MemoryLimitError`
    ///   (`SBCL_MEMORY_LIMIT`) or `UsageError` (`SBCL_LOCK_STALE_SECONDS`): exit status 2.
    init(environment: [String: String], workingDirectory: String = FileManager.default.currentDirectoryPath) throws {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        self.environment = environment
        self.workingDirectory = URL(fileURLWithPath: workingDirectory, isDirectory: true)
        convKernels = try ConvKernels(setName: value("SBCL_KERNELS"), algorithmName: value("SBCL_CONV"))
        memoryLimit = try MachineMemory.limit(setting: value(MachineMemory.limitVariable))
        lockPolicy = try LockPolicy(staleSeconds: value("SBCL_LOCK_STALE_SECONDS"))
        cacheDirectory = value("SBCL_CACHE_DIR")
        digestCache = value(DatasetStage.digestCacheVariable)
        openCLLibrary = value("SBCL_OPENCL_LIBRARY")
        openCLProfiling = value("SBCL_OPENCL_PROFILE") == "1"
        mpiLibrary = value("SBCL_MPI_LIBRARY")
        localRank = (value("OMPI_COMM_WORLD_LOCAL_RANK") ?? value("SLURM_LOCALID")).flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil } ?? 0
        testStages = value("SBCL_TEST_STAGES") == "1"
        testHooks = TestStageKinds.Hooks(runLog: value("SBCL_TEST_RUN_LOG"), hangAtStep: value("SBCL_TEST_HANG_AT_STEP").flatMap { Int($0) })
        stopAfterEpoch = value(EncoderStage.stopAfterEpochVariable).flatMap { Int($0) }
        slurmCPUsPerTask = value("SLURM_CPUS_PER_TASK").flatMap { Int($0) }.flatMap { $0 >= 1 ? $0 : nil }
        path = value("PATH") ?? "/usr/bin:/bin"
        imageLimits = try ImageLimits(environment: environment)
    }

    /// The cache folder: `--cache-dir`, else `SBCL_CACHE_DIR`, else `.sbcl/cache`.
    func cacheRoot(option: String?) -> URL {
        ArtifactCache.location(option: option, configured: cacheDirectory, workingDirectory: workingDirectory)
    }

    /// The cache at `root`; `create: false` for commands that only read it.
    func cache(root: URL, create: Bool = true) throws -> ArtifactCache {
        try ArtifactCache(root: root, create: create, lockPolicy: lockPolicy)
    }

    /// Sends the device drivers' own caches to the cache folder rather than the home folder:
    /// PoCL's compiled OpenCL kernels (`POCL_CACHE_DIR`, unless the user set it) go to `drivers/pocl`
    /// in the cache folder, or, when it does not exist (a `plan` only reads), to the temporary
    /// folder. The one write to the environment, here at the edge, before any driver loads.
    func placeDriverCaches(cacheRoot: URL) {
        guard environment["POCL_CACHE_DIR"] == nil else { return }
        let folder = FileManager.default.fileExists(atPath: cacheRoot.path)
            ? cacheRoot.appendingPathComponent("drivers/pocl")
            : FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-pocl-cache")
        setenv("POCL_CACHE_DIR", folder.path, 1)
    }

    /// The registry: the real kinds (remembering source digests beside the cache at `cacheRoot`,
    /// or in `SBCL_DIGEST_CACHE`), plus the test kinds when `SBCL_TEST_STAGES=1`. Nothing is
    /// written under the home folder: without a cache folder that exists, digests are not remembered.
    func registry(cacheRoot: URL?) -> StageRegistry {
        var digests = digestCache
        if digests == nil, let cacheRoot, FileManager.default.fileExists(atPath: cacheRoot.path) {
            digests = cacheRoot.appendingPathComponent("source-digests.json").path
        }
        var registry = StageRegistry()
        Stages.registerAll(in: &registry, configuration: Stages.Configuration(digestCache: digests, stopAfterEpoch: stopAfterEpoch))
        if testStages { TestStageKinds.register(in: &registry, hooks: testHooks) }
        return registry
    }
}
