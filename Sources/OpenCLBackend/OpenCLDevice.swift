import COpenCL
import Engine

/// One OpenCL device as the drivers describe it.
///
/// `@unchecked Sendable`: every field is immutable; `id` is a handle the driver owns for the
/// life of the process.
package struct OpenCLDevice: @unchecked Sendable, CustomStringConvertible {
    /// The driver's handle (`cl_device_id`).
    let id: UnsafeMutableRawPointer
    /// The platform (driver) name, e.g. `Portable Computing Language`, `NVIDIA CUDA`.
    package let platform: String
    /// The device's name, e.g. `NVIDIA H200`, `cpu-haswell-AMD EPYC 7B13`.
    package let name: String
    /// Whether the driver reports a GPU (or an accelerator); false for CPU devices such as PoCL's.
    package let isGPU: Bool
    /// The device's global memory, in bytes.
    package let globalMemoryBytes: Int
    /// The largest single buffer, in bytes.
    package let maximumAllocationBytes: Int
    /// The largest work-group.
    package let maximumWorkGroupSize: Int
    /// The ICD loader this device was found through (nil: `libOpenCL.so.1`).
    package let library: String?

    package var description: String { "\(name) (\(platform), \(isGPU ? "GPU" : "CPU"), \(globalMemoryBytes >> 20) MiB)" }

    /// Every device of every platform the ICD loader finds, GPUs first. `library` names another
    /// loader than `libOpenCL.so.1`.
    package static func all(library: String? = nil) throws(OpenCLError) -> [OpenCLDevice] {
        let api = try OpenCLLibrary.api(library: library)
        var platformCount: UInt32 = 0
        let status = api.getPlatformIDs(0, nil, &platformCount)
        // -1001 (CL_PLATFORM_NOT_FOUND_KHR): the ICD loader found no driver.
        if status == -1001 || platformCount == 0 {
            throw .noDevice("libOpenCL.so.1 loaded but no OpenCL driver is installed (no platform in /etc/OpenCL/vendors)")
        }
        try check(status, "clGetPlatformIDs")
        var platforms = [UnsafeMutableRawPointer?](repeating: nil, count: Int(platformCount))
        try check(api.getPlatformIDs(platformCount, &platforms, nil), "clGetPlatformIDs")
        var devices: [OpenCLDevice] = []
        for case let platform? in platforms {
            let platformName = infoString { api.getPlatformInfo(platform, UInt32(SBCL_CL_PLATFORM_NAME), $0, $1, $2) }
            var count: UInt32 = 0
            guard api.getDeviceIDs(platform, UInt64(SBCL_CL_DEVICE_TYPE_ALL), 0, nil, &count) == 0, count > 0 else { continue }
            var ids = [UnsafeMutableRawPointer?](repeating: nil, count: Int(count))
            try check(api.getDeviceIDs(platform, UInt64(SBCL_CL_DEVICE_TYPE_ALL), count, &ids, nil), "clGetDeviceIDs")
            for case let id? in ids {
                let type: UInt64 = infoValue { api.getDeviceInfo(id, UInt32(SBCL_CL_DEVICE_TYPE), $0, $1, nil) }
                let gpuMask = UInt64(SBCL_CL_DEVICE_TYPE_GPU | SBCL_CL_DEVICE_TYPE_ACCELERATOR)
                let memory: UInt64 = infoValue { api.getDeviceInfo(id, UInt32(SBCL_CL_DEVICE_GLOBAL_MEM_SIZE), $0, $1, nil) }
                let maxAlloc: UInt64 = infoValue { api.getDeviceInfo(id, UInt32(SBCL_CL_DEVICE_MAX_MEM_ALLOC_SIZE), $0, $1, nil) }
                let group: Int = infoValue { api.getDeviceInfo(id, UInt32(SBCL_CL_DEVICE_MAX_WORK_GROUP_SIZE), $0, $1, nil) }
                let name = infoString { api.getDeviceInfo(id, UInt32(SBCL_CL_DEVICE_NAME), $0, $1, $2) }
                devices.append(OpenCLDevice(id: id, platform: platformName, name: name, isGPU: type & gpuMask != 0,
                                            globalMemoryBytes: Int(memory), maximumAllocationBytes: Int(maxAlloc),
                                            maximumWorkGroupSize: Swift.max(1, group), library: library))
            }
        }
        return devices.filter(\.isGPU) + devices.filter { !$0.isGPU }
    }

    /// A string-valued info query (size query, then the bytes).
    private static func infoString(_ query: (Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> Int32) -> String {
        var size = 0
        guard query(0, nil, &size) == 0, size > 0 else { return "?" }
        var bytes = [CChar](repeating: 0, count: size + 1)
        guard bytes.withUnsafeMutableBytes({ query(size, $0.baseAddress, nil) }) == 0 else { return "?" }
        return String(cString: bytes).trimmingCharacters(in: " ")
    }

    /// A fixed-size info value (0 when the query fails).
    private static func infoValue<T: FixedWidthInteger>(_ query: (Int, UnsafeMutableRawPointer?) -> Int32) -> T {
        var value: T = 0
        _ = withUnsafeMutableBytes(of: &value) { query(MemoryLayout<T>.size, $0.baseAddress) }
        return value
    }
}

private extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
