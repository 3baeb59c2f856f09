import Engine
import Foundation
import Synchronization

extension CUDABackend {
    private static let opened = Mutex<[Int: CUDABackend]>([:])
    private static let settings = Mutex<(CUDALibraryConfiguration, Precision, ConvolutionPath)>(
        (CUDALibraryConfiguration(), .float32, .cudnn))

    /// Makes `--device cuda`, `cuda:N` and CUDA under `auto` open this backend (the executables
    /// call it at start; the engine itself never links CUDA). `environment` is the process's:
    /// `SBCL_CUDA_LIBRARY_PATH` and `VIRTUAL_ENV` feed the library search
    /// (`CUDALibraryConfiguration`), `SBCL_CUDA_PRECISION` (float32, tf32-convolutions, tf32) the
    /// GEMMs' arithmetic, `SBCL_CUDA_CONVOLUTIONS` (cudnn, im2col) the convolutions' path,
    /// `SBCL_CUDA_PROFILE=1` per-kernel timing and cuDNN's choices (written to stderr at exit).
    /// An unknown precision or path is refused when the device opens.
    package static func register(environment: [String: String]) {
        let precision = environment["SBCL_CUDA_PRECISION"], path = environment["SBCL_CUDA_CONVOLUTIONS"]
        settings.withLock {
            $0 = (CUDALibraryConfiguration(environment: environment), Precision(rawValue: precision ?? "float32") ?? .float32,
                  ConvolutionPath(rawValue: path ?? "cudnn") ?? .cudnn)
        }
        profiling = environment["SBCL_CUDA_PROFILE"] == "1"
        if profiling { atexit { CUDABackend.printProfiles() } }
        DeviceSelection.registerCUDA { ordinal in
            let device = ordinal == 0 ? "cuda" : "cuda:\(ordinal)"
            if let precision, Precision(rawValue: precision) == nil {
                throw DeviceError.unavailable(device: device, reason: "SBCL_CUDA_PRECISION=\(precision) is none of "
                    + Precision.allCases.map(\.rawValue).joined(separator: ", "))
            }
            if let path, ConvolutionPath(rawValue: path) == nil {
                throw DeviceError.unavailable(device: device, reason: "SBCL_CUDA_CONVOLUTIONS=\(path) is none of "
                    + ConvolutionPath.allCases.map(\.rawValue).joined(separator: ", "))
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
                // Mean threads per launch and nanoseconds per thread: a memory-bound kernel moving
                // k floats per thread at B bytes/s needs 4k/B s per thread.
                let perCall = entry.calls > 0 ? Double(entry.items) / Double(entry.calls) : 0
                text += entry.kernel.padding(toLength: 26, withPad: " ", startingAt: 0)
                    + String(format: "%9.3f s %7d calls %12.0f threads/call %8.3f ns/thread\n", entry.seconds, entry.calls,
                             perCall, entry.items > 0 ? entry.seconds * 1e9 / Double(entry.items) : 0)
            }
            let choices = backend.convolutionChoices
            if !choices.isEmpty { text += "cuDNN's convolutions:\n" + choices.map { "  \($0)\n" }.joined() }
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    /// The process's backend on the CUDA GPU of index `ordinal`, opened once (a context and a
    /// kernel build per process), with the settings `register` took.
    package static func shared(ordinal: Int = 0) throws(CUDAError) -> CUDABackend {
        if let backend = opened.withLock({ $0[ordinal] }) { return backend }
        let (configuration, precision, path) = settings.withLock { $0 }
        let devices = try CUDADevice.all(configuration: configuration)
        guard ordinal < devices.count else {
            throw .noDevice("no CUDA GPU \(ordinal): the driver lists \(devices.count) (\(devices.map(\.description).joined(separator: "; ")))")
        }
        let backend = try CUDABackend(device: devices[ordinal], configuration: configuration, precision: precision,
                                  convolutionPath: path)
        return opened.withLock { table in
            if let other = table[ordinal] { return other }
            table[ordinal] = backend
            return backend
        }
    }
}
