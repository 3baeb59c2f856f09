import Engine
import Foundation
import Synchronization

extension CUDABackend {
    private static let opened = Mutex<[Int: CUDABackend]>([:])
    private static let settings = Mutex<(CUDALibraryConfiguration, Precision)>((CUDALibraryConfiguration(), .float32))

    /// Makes `--device cuda`, `cuda:N` and CUDA under `auto` open this backend (the executables
    /// call it at start; the engine itself never links CUDA). `environment` is the process's:
    /// `SBCL_CUDA_LIBRARY_PATH` and `VIRTUAL_ENV` feed the library search
    /// (`CUDALibraryConfiguration`), `SBCL_CUDA_PRECISION` (float32, tf32-convolutions, tf32) the
    /// GEMMs' arithmetic, `SBCL_CUDA_PROFILE=1` per-kernel timing (written to stderr at exit). An unknown precision is
    /// refused when the device opens.
    package static func register(environment: [String: String]) {
        let precision = environment["SBCL_CUDA_PRECISION"]
        settings.withLock { $0 = (CUDALibraryConfiguration(environment: environment), Precision(rawValue: precision ?? "float32") ?? .float32) }
        profiling = environment["SBCL_CUDA_PROFILE"] == "1"
        if profiling { atexit { CUDABackend.printProfiles() } }
        DeviceSelection.registerCUDA { ordinal in
            let device = ordinal == 0 ? "cuda" : "cuda:\(ordinal)"
            if let precision, Precision(rawValue: precision) == nil {
                throw DeviceError.unavailable(device: device, reason: "SBCL_CUDA_PRECISION=\(precision) is none of "
                    + Precision.allCases.map(\.rawValue).joined(separator: ", "))
            }
            do {
                return try shared(ordinal: ordinal)
            } catch {
                throw DeviceError.unavailable(device: device, reason: String(describing: error))
            }
        }
    }

    /// Writes each opened backend's per-kernel times to stderr (at exit, when profiling).
    static func printProfiles() {
        for backend in opened.withLock({ Array($0.values) }) {
            var text = "per-kernel time on \(backend.name):\n"
            for entry in backend.profile {
                text += entry.kernel.padding(toLength: 26, withPad: " ", startingAt: 0)
                    + String(format: "%9.3f s %7d calls\n", entry.seconds, entry.calls)
            }
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    /// The process's backend on the CUDA GPU of index `ordinal`, opened once (a context and a
    /// kernel build per process), with the settings `register` took.
    package static func shared(ordinal: Int = 0) throws(CUDAError) -> CUDABackend {
        if let backend = opened.withLock({ $0[ordinal] }) { return backend }
        let (configuration, precision) = settings.withLock { $0 }
        let devices = try CUDADevice.all(configuration: configuration)
        guard ordinal < devices.count else {
            throw .noDevice("no CUDA GPU \(ordinal): the driver lists \(devices.count) (\(devices.map(\.description).joined(separator: "; ")))")
        }
        let backend = try CUDABackend(device: devices[ordinal], configuration: configuration, precision: precision)
        return opened.withLock { table in
            if let other = table[ordinal] { return other }
            table[ordinal] = backend
            return backend
        }
    }
}
