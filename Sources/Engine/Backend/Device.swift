import Foundation

/// Errors in choosing a device.
public enum DeviceError: Error, CustomStringConvertible, Equatable {
    case unknownDevice(String)
    case cudaUnavailable(String)

    public var description: String {
        switch self {
        case .unknownDevice(let name):
            return "unknown device '\(name)': expected auto, cpu or cuda"
        case .cudaUnavailable(let reason):
            return "device 'cuda' is not usable here: \(reason). Run with --device cpu (or auto)."
        }
    }
}

/// Picks the backend for `--device auto|cpu|cuda`.
public enum DeviceSelection {
    /// The outcome of a selection: the backend, and a note for the user when `auto` fell back.
    public struct Choice {
        public let backend: any Backend
        public let note: String?
    }

    /// Resolves a device name. `cuda` throws when no usable GPU driver loads; `auto` picks the
    /// CPU then, and says so in `note`.
    public static func select(_ name: String) throws -> Choice {
        switch name.lowercased() {
        case "cpu":
            return Choice(backend: CPUBackend.shared, note: nil)
        case "cuda", "gpu":
            throw DeviceError.cudaUnavailable(cudaProblem())
        case "auto":
            let reason = cudaProblem()
            return Choice(backend: CPUBackend.shared, note: "device auto: using the CPU (\(reason))")
        default:
            throw DeviceError.unknownDevice(name)
        }
    }

    /// Why the GPU cannot be used on this machine.
    ///
    /// The GPU backend is not built yet, so even a machine with a CUDA driver is refused; the
    /// message then says so rather than pretending the driver is missing.
    static func cudaProblem() -> String {
        guard let handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL) else {
            return "no NVIDIA driver (libcuda.so.1) could be loaded"
        }
        dlclose(handle)
        return "an NVIDIA driver is present, but this build of sbcl has no GPU backend yet"
    }
}
