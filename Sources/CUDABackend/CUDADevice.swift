import CCUDA

/// One CUDA GPU as the driver describes it.
package struct CUDADevice: Sendable, CustomStringConvertible {
    /// The device's index (`cuda:N`).
    package let ordinal: Int
    /// The driver's handle (`CUdevice`, an int).
    let handle: Int32
    /// The device's name, e.g. `NVIDIA H200`.
    package let name: String
    /// The compute capability, e.g. (9, 0).
    package let computeCapability: (major: Int, minor: Int)
    /// The device's memory, in bytes.
    package let memoryBytes: Int
    /// Streaming multiprocessors.
    package let multiprocessors: Int
    /// The largest block.
    package let maximumThreadsPerBlock: Int
    /// The CUDA version the driver supports, e.g. 13000 for 13.0.
    package let driverVersion: Int
    /// The multiprocessors' peak clock, in kHz (0 when the driver does not say).
    package let clockKHz: Int

    /// The arithmetic peak in GFLOP/s: float32 on the CUDA cores (multiprocessors × float32 lanes
    /// × 2 for the multiply-add × the peak clock) and, where the architecture's rate is known,
    /// dense TF32 on the tensor cores. Nil when the clock or the architecture is unknown.
    package var peakGFLOPS: (float32: Double, tf32: Double?)? {
        let (major, minor) = computeCapability
        let lanes: Double
        switch (major, minor) {
        case (7, _), (8, 0): lanes = 64
        case (8, _), (9, 0), (10, _), (12, _): lanes = 128
        default: return nil
        }
        guard clockKHz > 0, multiprocessors > 0 else { return nil }
        let perClock = Double(multiprocessors) * Double(clockKHz) / 1e6  // SMs × GHz
        // Dense TF32 FLOP per SM per clock: 1,024 on A100 (cc 8.0), 2,048 on H100/H200 (cc 9.0).
        let tf32: Double? = switch (major, minor) {
        case (8, 0): 1024 * perClock
        case (9, 0): 2048 * perClock
        default: nil
        }
        return (lanes * 2 * perClock, tf32)
    }

    package var description: String {
        "\(name) (cc \(computeCapability.major).\(computeCapability.minor), \(memoryBytes >> 20) MiB, driver \(Self.version(driverVersion)))"
    }

    /// `13000` as `13.0`.
    static func version(_ v: Int) -> String { "\(v / 1000).\(v % 1000 / 10)" }

    /// Every GPU the driver lists, in its order. Throws when the driver is missing or lists none.
    package static func all(configuration: CUDALibraryConfiguration) throws(CUDAError) -> [CUDADevice] {
        let api = try CUDALibraries.driver(configuration)
        let initialised = api.`init`(0)
        if Int(initialised) == SBCL_CUDA_ERROR_NO_DEVICE {
            throw .noDevice("the NVIDIA driver loaded but finds no CUDA GPU")
        }
        if Int(initialised) == SBCL_CUDA_ERROR_STUB_LIBRARY {
            throw .noDevice("libcuda.so.1 is the CUDA toolkit's stub, not a driver; install the NVIDIA driver")
        }
        try check(api, initialised, "cuInit")
        var version: Int32 = 0
        _ = api.driverGetVersion(&version)
        var count: Int32 = 0
        try check(api, api.deviceGetCount(&count), "cuDeviceGetCount")
        guard count > 0 else { throw .noDevice("the NVIDIA driver loaded but finds no CUDA GPU") }
        return try (0..<Int(count)).map { (ordinal: Int) throws(CUDAError) -> CUDADevice in
            var handle: Int32 = 0
            try check(api, api.deviceGet(&handle, Int32(ordinal)), "cuDeviceGet(\(ordinal))")
            var name = [CChar](repeating: 0, count: 256)
            _ = api.deviceGetName(&name, Int32(name.count), handle)
            func attribute(_ key: Int32) -> Int {
                var value: Int32 = 0
                return api.deviceGetAttribute(&value, key, handle) == 0 ? Int(value) : 0
            }
            var memory = 0
            _ = api.deviceTotalMem(&memory, handle)
            return CUDADevice(ordinal: ordinal, handle: handle, name: String(cString: name),
                              computeCapability: (attribute(SBCL_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                                                  attribute(SBCL_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)),
                              memoryBytes: memory, multiprocessors: attribute(SBCL_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
                              maximumThreadsPerBlock: Swift.max(32, attribute(SBCL_CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK)),
                              driverVersion: Int(version), clockKHz: attribute(SBCL_CU_DEVICE_ATTRIBUTE_CLOCK_RATE))
        }
    }
}

/// Throws `CUDAError.call` unless `result` is CUDA_SUCCESS.
@inline(__always)
func check(_ api: sbcl_cuda_driver_api, _ result: Int32, _ call: @autoclosure () -> String) throws(CUDAError) {
    guard result != 0 else { return }
    throw .call(call(), result: result, text: errorText(api, result))
}

/// The driver's name for `result`.
func errorText(_ api: sbcl_cuda_driver_api, _ result: Int32) -> String {
    var text: UnsafePointer<CChar>?
    guard api.getErrorString(result, &text) == 0, let text else { return "unknown error" }
    return String(cString: text)
}
