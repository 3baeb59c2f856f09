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

/// Picks the backend for `--device auto|cpu|cuda|opencl|opencl:cpu`.
///
/// GPU backends are modules of their own (`OpenCLBackend`) that the executables register at start
/// with `register(_:opener:)` (ggml's backend registry); the engine knows only the CPU. A device
/// whose module is not registered, or whose driver does not load, is refused with a sentence.
public enum DeviceSelection {
    /// The device names a recipe or the CLI may use.
    public static let names = ["auto", "cpu", "cuda", "opencl", "opencl:cpu"]

    /// The outcome of a selection: the backend, and a note for the user when `auto` fell back.
    public struct Choice {
        public let backend: any Backend
        public let note: String?
    }

    /// Opens a registered device kind's backend: `cpuDevice` asks for a CPU device of that kind
    /// (PoCL's, for `opencl:cpu`) instead of a GPU. Throws `DeviceError.unavailable`.
    public typealias Opener = @Sendable (_ cpuDevice: Bool) throws -> any Backend

    private static let openers = Mutex<[DeviceKind: Opener]>([:])

    /// Makes `kind` selectable through `opener` (the executables call this at start).
    public static func register(_ kind: DeviceKind, opener: @escaping Opener) {
        openers.withLock { $0[kind] = opener }
    }

    /// Resolves a device name. A GPU throws when its backend is not registered or cannot open a
    /// device; `auto` tries OpenCL's GPUs and takes the CPU otherwise, saying why in `note`.
    public static func select(_ name: String) throws -> Choice {
        switch name.lowercased() {
        case "cpu":
            return Choice(backend: CPUBackend.shared, note: nil)
        case "cuda", "gpu":
            throw DeviceError.unavailable(device: "cuda", reason: cudaProblem())
        case "opencl", "opencl:gpu":
            return Choice(backend: try open(.opencl, name: "opencl", cpuDevice: false), note: nil)
        case "opencl:cpu":
            return Choice(backend: try open(.opencl, name: "opencl:cpu", cpuDevice: true), note: nil)
        case "auto":
            do {
                let backend = try open(.opencl, name: "opencl", cpuDevice: false)
                if let missing = missingOps(backend) {
                    return Choice(backend: CPUBackend.shared,
                                  note: "device auto: using the CPU (\(backend.name) found, but the OpenCL backend has no kernel yet for \(missing))")
                }
                return Choice(backend: backend, note: "device auto: using \(backend.name)")
            } catch let error as DeviceError {
                guard case .unavailable(_, let reason) = error else { throw error }
                return Choice(backend: CPUBackend.shared, note: "device auto: using the CPU (\(reason); \(cudaProblem()))")
            }
        default:
            throw DeviceError.unknownDevice(name)
        }
    }

    /// The primitive ops `backend` has no kernel for, listed, or nil when it runs them all.
    public static func missingOps(_ backend: any Backend) -> String? {
        let missing = PrimitiveOp.allCases.filter { !backend.supports($0) }
        return missing.isEmpty ? nil : missing.map(\.rawValue).joined(separator: ", ")
    }

    private static func open(_ kind: DeviceKind, name: String, cpuDevice: Bool) throws -> any Backend {
        guard let opener = openers.withLock({ $0[kind] }) else {
            throw DeviceError.unavailable(device: name, reason: "this program was built without the \(kind.rawValue) backend")
        }
        return try opener(cpuDevice)
    }

    /// Why CUDA cannot be used on this machine.
    ///
    /// No CUDA backend is built (OpenCL runs on NVIDIA GPUs through their driver), so even a
    /// machine with a CUDA driver is refused; the message then says so rather than pretending the
    /// driver is missing.
    static func cudaProblem() -> String {
        guard let handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL) else {
            return "no NVIDIA driver (libcuda.so.1) could be loaded"
        }
        dlclose(handle)
        return "an NVIDIA driver is present, but this build of sbcl has no CUDA backend; use --device opencl"
    }
}
