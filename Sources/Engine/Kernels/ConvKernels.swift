/// The convolution kernels the CPU backend runs: the register-tile set and the algorithm of the
/// 3×3 stride-1 convolutions.
///
/// A plain value: the executables build it once from their configuration (`SBCL_KERNELS`,
/// `SBCL_CONV`) and give it to the CPU backend (`CPUBackend.convKernels`); tests and benches pass
/// one per call to the `Conv2D` kernels. The engine reads no environment.
public struct ConvKernels: Sendable, Equatable, CustomStringConvertible {
    /// The register tiles.
    public var set: ConvKernelSet
    /// How 3×3 stride-1 convolutions are computed.
    public var algorithm: ConvAlgorithm

    /// The widest set this machine runs and `auto` by default.
    public init(set: ConvKernelSet = .widest, algorithm: ConvAlgorithm = .auto) {
        self.set = set
        self.algorithm = algorithm
    }

    /// The kernels two names ask for: a kernel set and an algorithm, each nil or empty for the
    /// default (the widest set, `auto`).
    ///
    /// - Throws: `KernelSetError` naming the value when a set is unknown or cannot run on this CPU,
    ///   or an algorithm is unknown.
    public init(setName: String?, algorithmName: String?) throws {
        self.init()
        if let setName, !setName.isEmpty { set = try ConvKernelSet.resolve(setName).get() }
        if let algorithmName, !algorithmName.isEmpty { algorithm = try ConvAlgorithm.resolve(algorithmName).get() }
    }

    public var description: String { "\(set.rawValue)/\(algorithm.rawValue)" }
}
