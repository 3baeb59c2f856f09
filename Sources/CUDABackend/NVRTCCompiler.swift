import CCUDA
import DeviceKernelSource

/// The device kernels compiled by NVRTC: needs the NVRTC library only, no GPU and no driver, so
/// CI compiles every kernel on a machine without a GPU (CUDABackendTests).
package struct NVRTCCompiler: Sendable {
    let api: sbcl_nvrtc_api

    /// NVRTC's version, e.g. (12, 9).
    package let version: (major: Int, minor: Int)

    /// Loads NVRTC from `configuration`'s search order.
    package init(configuration: CUDALibraryConfiguration) throws(CUDAError) {
        api = try CUDALibraries.nvrtc(configuration)
        var major: Int32 = 0, minor: Int32 = 0
        _ = api.version(&major, &minor)
        version = (Int(major), Int(minor))
    }

    init(api: sbcl_nvrtc_api) {
        self.api = api
        var major: Int32 = 0, minor: Int32 = 0
        _ = api.version(&major, &minor)
        version = (Int(major), Int(minor))
    }

    /// What `compile` produces: PTX text for a virtual architecture (`compute_90`), or a CUBIN
    /// (machine code) for a real one (`sm_90`).
    package enum Output: Equatable, Sendable {
        case ptx(String)
        case cubin([UInt8])
    }

    /// Compiles `source` (nil: every kernel, `KernelSource.cudaSource`) for `architecture`
    /// with `KernelSource.nvrtcOptions`. `compute_XY` gives PTX, `sm_XY` a CUBIN when this NVRTC
    /// can (11.2 and later). A compile error throws with NVRTC's log.
    package func compile(architecture: String, source: String? = nil) throws(CUDAError) -> Output {
        let source = source ?? KernelSource.cudaSource
        var program: UnsafeMutableRawPointer?
        let created = api.createProgram(&program, source, "sbcl_kernels.cu", 0, nil, nil)
        guard created == 0, let program else {
            throw .compile(architecture: architecture, log: "nvrtcCreateProgram: \(message(created))")
        }
        defer { var p: UnsafeMutableRawPointer? = program; _ = api.destroyProgram(&p) }
        let options = ["--gpu-architecture=\(architecture)"] + KernelSource.nvrtcOptions
        let status = withCStrings(options) { api.compileProgram(program, Int32(options.count), $0) }
        guard status == 0 else {
            throw .compile(architecture: architecture, log: "\(message(status))\n\(log(program))")
        }
        if architecture.hasPrefix("sm_"), let size = api.getCUBINSize, let get = api.getCUBIN {
            var count = 0
            guard size(program, &count) == 0, count > 0 else {
                throw .compile(architecture: architecture, log: "nvrtcGetCUBINSize gave no machine code")
            }
            var bytes = [UInt8](repeating: 0, count: count)
            guard bytes.withUnsafeMutableBufferPointer({ get(program, UnsafeMutableRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }) == 0 else {
                throw .compile(architecture: architecture, log: "nvrtcGetCUBIN failed")
            }
            return .cubin(bytes)
        }
        var count = 0
        guard api.getPTXSize(program, &count) == 0, count > 0 else {
            throw .compile(architecture: architecture, log: "nvrtcGetPTXSize gave no PTX")
        }
        var text = [CChar](repeating: 0, count: count + 1)
        guard api.getPTX(program, &text) == 0 else { throw .compile(architecture: architecture, log: "nvrtcGetPTX failed") }
        return .ptx(String(cString: text))
    }

    private func message(_ result: Int32) -> String {
        api.getErrorString(result).map { String(cString: $0) } ?? "NVRTC error \(result)"
    }

    private func log(_ program: UnsafeMutableRawPointer) -> String {
        var size = 0
        guard api.getProgramLogSize(program, &size) == 0, size > 1 else { return "" }
        var text = [CChar](repeating: 0, count: size + 1)
        _ = api.getProgramLog(program, &text)
        return String(cString: text)
    }
}
