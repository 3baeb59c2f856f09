import Foundation
import Synchronization

/// Errors in choosing or using a device.
public enum DeviceError: Error, CustomStringConvertible, Equatable {
    /// A device name that is none of `DeviceSelection.names`.
    case unknownDevice(String)
    /// The device asked for cannot be used on this machine (no driver, no library, no device).
    case unavailable(device: String, reason: String)
    /// The device ran out of memory; `requestedBytes` is the allocation that failed when known,
    /// `stage` the pipeline stage that was running when known (`ExecutionPlace` adds it).
    case outOfMemory(device: String, requestedBytes: Int?, inUseBytes: Int, capacityBytes: Int, stage: String?)
    /// A device call failed for another reason.
    case failure(device: String, message: String)

    public var description: String {
        switch self {
        case .unknownDevice(let name):
            return "unknown device '\(name)': expected \(DeviceSelection.names.joined(separator: ", "))"
        case .unavailable(let device, let reason):
            return "device '\(device)' is not usable here: \(reason). Run with --device cpu (or auto)."
        case .outOfMemory(let device, let requested, let inUse, let capacity, let stage):
            let what = requested.map { "allocating \(Self.bytes($0)) failed" } ?? "an allocation failed"
            return "device out of memory\(stage.map { " in stage '\($0)'" } ?? ""): \(what) on \(device) with "
                + "\(Self.bytes(inUse)) of \(Self.bytes(capacity)) in use. Lower batch_size, or run with --device cpu."
        case .failure(let device, let message):
            return "device error on \(device): \(message)"
        }
    }

    /// The same error with the running stage named (out-of-memory errors only).
    public func inStage(_ name: String) -> DeviceError {
        guard case .outOfMemory(let device, let requested, let inUse, let capacity, nil) = self else { return self }
        return .outOfMemory(device: device, requestedBytes: requested, inUseBytes: inUse, capacityBytes: capacity, stage: name)
    }

    static func bytes(_ n: Int) -> String {
        n >= 1 << 30 ? String(format: "%.2f GiB", Double(n) / Double(1 << 30))
            : n >= 1 << 20 ? String(format: "%.1f MiB", Double(n) / Double(1 << 20)) : "\(n) bytes"
    }
}

/// Picks the backend for `--device auto|cpu|cuda|cuda:N|opencl|opencl:cpu`.
///
/// GPU backends are modules of their own (`CUDABackend`, `OpenCLBackend`) that the executables
/// register at start with `register(_:opener:)` and `registerCUDA(opener:)` (ggml's backend
/// registry); the engine knows only the CPU. A device whose module is not registered, or whose
/// driver does not load, is refused with a sentence.
public enum DeviceSelection {
    /// The device names a recipe or the CLI may use (`cuda:N`, the N-th CUDA GPU, besides these).
    public static let names = ["auto", "cpu", "cuda", "opencl", "opencl:cpu"]

    /// The outcome of a selection: the backend, and a note for the user when `auto` fell back.
    public struct Choice {
        public let backend: any Backend
        public let note: String?
        /// The CUDA GPU's index, when the backend is CUDA's.
        public var ordinal: Int? = nil
    }

    /// Opens a registered device kind's backend: `cpuDevice` asks for a CPU device of that kind
    /// (PoCL's, for `opencl:cpu`) instead of a GPU. Throws `DeviceError.unavailable`.
    public typealias Opener = @Sendable (_ cpuDevice: Bool) throws -> any Backend

    /// Opens the CUDA backend on the GPU of index `ordinal` (`cuda:N`; `cuda` is 0). Throws
    /// `DeviceError.unavailable`.
    public typealias CUDAOpener = @Sendable (_ ordinal: Int) throws -> any Backend

    /// Counts the CUDA GPUs the driver lists. Throws when there is no driver.
    public typealias CUDACounter = @Sendable () throws -> Int

    private static let openers = Mutex<[DeviceKind: Opener]>([:])
    private static let cudaOpener = Mutex<CUDAOpener?>(nil)
    private static let cudaCounter = Mutex<CUDACounter?>(nil)

    /// Makes `kind` selectable through `opener` (the executables call this at start).
    public static func register(_ kind: DeviceKind, opener: @escaping Opener) {
        openers.withLock { $0[kind] = opener }
    }

    /// Makes `cuda`, `cuda:N` and CUDA under `auto` selectable (the executables call this at start).
    public static func registerCUDA(opener: @escaping CUDAOpener) {
        cudaOpener.withLock { $0 = opener }
    }

    /// Lets `cuda` and `auto` pick a data-parallel rank's local GPU (`select(_:localRank:)`):
    /// `counter` counts the GPUs (the executables call this at start, with the CUDA backend).
    public static func registerCUDACount(_ counter: @escaping CUDACounter) {
        cudaCounter.withLock { $0 = counter }
    }

    /// Resolves a device name. A GPU throws when its backend is not registered or cannot open a
    /// device; `auto` tries a CUDA GPU, then an OpenCL GPU, and takes the CPU otherwise, saying
    /// why in `note`.
    ///
    /// `localRank` is a data-parallel rank's index on its machine: `cuda` and CUDA under `auto`
    /// take the GPU of index `localRank` modulo the GPUs' number (each rank its own GPU); an
    /// explicit `cuda:N` is kept, and OpenCL's ranks share the device they name.
    public static func select(_ name: String, localRank: Int = 0) throws -> Choice {
        let lowered = name.lowercased()
        switch lowered {
        case "cpu":
            return Choice(backend: CPUBackend.shared, note: nil)
        case "cuda", "gpu":
            let ordinal = localOrdinal(localRank)
            return Choice(backend: try openCUDA(ordinal: ordinal, name: ordinal == 0 ? "cuda" : "cuda:\(ordinal)"), note: nil, ordinal: ordinal)
        case _ where lowered.hasPrefix("cuda:"):
            guard let ordinal = Int(lowered.dropFirst(5)), ordinal >= 0 else { throw DeviceError.unknownDevice(name) }
            return Choice(backend: try openCUDA(ordinal: ordinal, name: lowered), note: nil, ordinal: ordinal)
        case "opencl", "opencl:gpu":
            return Choice(backend: try open(.opencl, name: "opencl", cpuDevice: false), note: nil)
        case "opencl:cpu":
            return Choice(backend: try open(.opencl, name: "opencl:cpu", cpuDevice: true), note: nil)
        case "auto":
            // CUDA first, then an OpenCL GPU; the note gives OpenCL's reason first, then CUDA's.
            var reasons: [(order: Int, text: String)] = []
            let ordinal = localOrdinal(localRank)
            let attempts: [(Int, () throws -> any Backend)] = [(1, { try openCUDA(ordinal: ordinal, name: ordinal == 0 ? "cuda" : "cuda:\(ordinal)") }),
                                                                 (0, { try open(.opencl, name: "opencl", cpuDevice: false) })]
            for (order, attempt) in attempts {
                do {
                    let backend = try attempt()
                    if let missing = missingOps(backend) {
                        reasons.append((order, "\(backend.name) found, but its backend has no kernel yet for \(missing)"))
                        continue
                    }
                    return Choice(backend: backend, note: "device auto: using \(backend.name)", ordinal: order == 1 ? ordinal : nil)
                } catch let error as DeviceError {
                    guard case .unavailable(_, let reason) = error else { throw error }
                    reasons.append((order, reason))
                }
            }
            let why = reasons.sorted { $0.order < $1.order }.map(\.text).joined(separator: "; ")
            return Choice(backend: CPUBackend.shared, note: "device auto: using the CPU (\(why))")
        default:
            throw DeviceError.unknownDevice(name)
        }
    }

    /// The primitive ops `backend` has no kernel for, listed, or nil when it runs them all.
    public static func missingOps(_ backend: any Backend) -> String? {
        let missing = PrimitiveOp.allCases.filter { !backend.supports($0) }
        return missing.isEmpty ? nil : missing.map(\.rawValue).joined(separator: ", ")
    }

    /// The CUDA GPU a rank of local index `localRank` takes: `localRank` modulo the GPUs the
    /// driver lists (`localRank` itself when they cannot be counted; opening it then says why).
    static func localOrdinal(_ localRank: Int) -> Int {
        guard localRank > 0 else { return 0 }
        guard let counter = cudaCounter.withLock({ $0 }), let count = try? counter(), count > 0 else { return localRank }
        return localRank % count
    }

    private static func open(_ kind: DeviceKind, name: String, cpuDevice: Bool) throws -> any Backend {
        guard let opener = openers.withLock({ $0[kind] }) else {
            throw DeviceError.unavailable(device: name, reason: "this program was built without the \(kind.rawValue) backend")
        }
        return try opener(cpuDevice)
    }

    private static func openCUDA(ordinal: Int, name: String) throws -> any Backend {
        guard let opener = cudaOpener.withLock({ $0 }) else {
            throw DeviceError.unavailable(device: name, reason: cudaProblem())
        }
        return try opener(ordinal)
    }

    /// Why CUDA cannot be used by a program that did not register the CUDA backend.
    static func cudaProblem() -> String {
        guard let handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL) else {
            return "no NVIDIA driver (libcuda.so.1) could be loaded"
        }
        dlclose(handle)
        return "an NVIDIA driver is present, but this program was built without the CUDA backend"
    }
}
