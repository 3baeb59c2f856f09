import Engine
import Synchronization

extension OpenCLBackend {
    private static let opened = Mutex<[Bool: OpenCLBackend]>([:])

    /// Makes `--device opencl`, `opencl:cpu` and `auto` open this backend (the executables call it
    /// at start; the engine itself never links OpenCL). `library` names another ICD loader than
    /// `libOpenCL.so.1`; `profiling` times every launch (both from the executable's configuration).
    package static func register(library: String? = nil, profiling: Bool = false) {
        DeviceSelection.register(.opencl) { cpuDevice in
            do {
                return try shared(cpuDevice: cpuDevice, library: library, profiling: profiling)
            } catch {
                throw DeviceError.unavailable(device: cpuDevice ? "opencl:cpu" : "opencl", reason: String(describing: error))
            }
        }
    }

    /// The process's backend on the first OpenCL GPU (`cpuDevice` false) or the first OpenCL CPU
    /// device such as PoCL's (`cpuDevice` true), opened once: a context and a kernel build per process.
    package static func shared(cpuDevice: Bool, library: String? = nil, profiling: Bool = false) throws(OpenCLError) -> OpenCLBackend {
        if let backend = opened.withLock({ $0[cpuDevice] }) { return backend }
        let devices = try OpenCLDevice.all(library: library)
        guard let device = devices.first(where: { $0.isGPU != cpuDevice }) else {
            let found = devices.isEmpty ? "none" : devices.map(\.description).joined(separator: "; ")
            throw .noDevice(cpuDevice
                ? "no OpenCL CPU device (install pocl-opencl-icd); devices found: \(found)"
                : "no OpenCL GPU found (devices: \(found)); --device opencl:cpu runs on an OpenCL CPU device")
        }
        let backend = try OpenCLBackend(device: device, profiling: profiling)
        return opened.withLock { table in
            if let other = table[cpuDevice] { return other }
            table[cpuDevice] = backend
            return backend
        }
    }
}
