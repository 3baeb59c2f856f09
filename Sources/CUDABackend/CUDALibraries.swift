import CCUDA
import Engine
import Foundation
import Synchronization

/// Where the CUDA libraries are looked for: folders named by the user, then the usual places.
///
/// The search order, for each library (docs/cuda.md):
/// 1. each folder of `directories` (the executables fill it from `SBCL_CUDA_LIBRARY_PATH`, a
///    colon-separated list);
/// 2. the CUDA toolkit: `/usr/local/cuda/lib64`, `/usr/local/cuda/targets/x86_64-linux/lib`, `/opt/cuda/lib64`;
/// 3. NVIDIA's wheels from PyPI under each Python's `site-packages`/`dist-packages`
///    (`/usr/lib/python3*`, `/usr/local/lib/python3*`, `virtualEnvironment/lib/python3*`):
///    `nvidia/cu13/lib` (CUDA 13 wheels), then `nvidia/cublas/lib`, `nvidia/cuda_nvrtc/lib`,
///    `nvidia/cudnn/lib` (CUDA 12 wheels);
/// 4. the dynamic loader's own path (`LD_LIBRARY_PATH`, `ldconfig`), by file name alone.
///
/// The driver (`libcuda.so.1`) comes with the NVIDIA driver, never from the toolkit or a wheel:
/// it is looked for in `directories`, then by name, then in `/usr/local/nvidia/lib64` and
/// `/usr/lib/wsl/lib`.
package struct CUDALibraryConfiguration: Sendable, Equatable {
    /// Folders searched first, in order.
    package var directories: [String]
    /// A Python virtual environment whose `site-packages` is searched too.
    package var virtualEnvironment: String?

    package init(directories: [String] = [], virtualEnvironment: String? = nil) {
        self.directories = directories
        self.virtualEnvironment = virtualEnvironment
    }

    /// The configuration an executable takes from its environment: `SBCL_CUDA_LIBRARY_PATH`
    /// (colon-separated folders) and `VIRTUAL_ENV`. The library never reads the environment itself.
    package init(environment: [String: String]) {
        self.init(directories: (environment["SBCL_CUDA_LIBRARY_PATH"] ?? "").split(separator: ":").map(String.init),
                  virtualEnvironment: environment["VIRTUAL_ENV"].flatMap { $0.isEmpty ? nil : $0 })
    }

    /// The libraries the backend loads, and the file names each may have (newest first).
    package enum Library: String, CaseIterable, Sendable {
        case driver, nvrtc, cublas, cudnn

        /// The file names tried in every folder.
        package var fileNames: [String] {
            switch self {
            case .driver: ["libcuda.so.1"]
            case .nvrtc: ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"]
            case .cublas: ["libcublas.so.13", "libcublas.so.12", "libcublas.so"]
            case .cudnn: ["libcudnn.so.9"]
            }
        }

        /// The folders under a `site-packages` where NVIDIA's wheels put this library.
        var wheelFolders: [String] {
            switch self {
            case .driver: []
            case .nvrtc: ["nvidia/cu13/lib", "nvidia/cuda_nvrtc/lib"]
            case .cublas: ["nvidia/cu13/lib", "nvidia/cublas/lib"]
            case .cudnn: ["nvidia/cudnn/lib", "nvidia/cu13/lib"]
            }
        }

        /// The library's name for messages.
        var title: String {
            switch self {
            case .driver: "the CUDA driver (libcuda.so.1)"
            case .nvrtc: "NVRTC (libnvrtc)"
            case .cublas: "cuBLAS (libcublas)"
            case .cudnn: "cuDNN (libcudnn.so.9)"
            }
        }

        /// What a user installs to get it.
        var installHint: String {
            switch self {
            case .driver: "install the NVIDIA driver (no GPU driver is present on this machine)"
            case .nvrtc: "pip install nvidia-cuda-nvrtc-cu12 (or the CUDA toolkit)"
            case .cublas: "pip install nvidia-cublas-cu12 nvidia-cuda-nvrtc-cu12 (or the CUDA toolkit)"
            case .cudnn: "pip install nvidia-cudnn-cu12"
            }
        }
    }

    /// The toolkit's library folders.
    static let toolkitFolders = ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/opt/cuda/lib64"]

    /// Every `site-packages`/`dist-packages` folder that exists, in search order.
    func sitePackages() -> [String] {
        var patterns = ["/usr/local/lib/python3*/site-packages", "/usr/local/lib/python3*/dist-packages",
                        "/usr/lib/python3*/site-packages", "/usr/lib/python3*/dist-packages"]
        if let venv = virtualEnvironment { patterns.insert("\(venv)/lib/python3*/site-packages", at: 0) }
        return patterns.flatMap(Self.glob)
    }

    /// The candidate paths for `library`, in the documented order (files that do not exist are
    /// left out, except the bare names the loader resolves itself).
    package func candidates(for library: Library) -> [String] {
        let names = library.fileNames
        func inFolders(_ folders: [String]) -> [String] {
            folders.flatMap { folder in names.map { "\(folder)/\($0)" } }.filter { FileManager.default.fileExists(atPath: $0) }
        }
        var paths = inFolders(directories)
        switch library {
        case .driver:
            paths += names + inFolders(["/usr/local/nvidia/lib64", "/usr/lib/wsl/lib"])
        case .nvrtc, .cublas, .cudnn:
            paths += inFolders(Self.toolkitFolders)
            paths += inFolders(sitePackages().flatMap { site in library.wheelFolders.map { "\(site)/\($0)" } })
            paths += names
        }
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }

    /// The paths matching a shell pattern, sorted (newest Python last; the order among Pythons is stable).
    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { result.gl_pathv[$0].map { String(cString: $0) } }
    }
}

/// The loaded libraries' function tables (see `sbcl_cuda.h`); cuDNN only when present. Loading is
/// a pure function of the configuration (the C side keeps nothing), so two configurations in one
/// process — a test's fake driver beside the real search — do not meet.
struct CUDALibraries {
    let driver: sbcl_cuda_driver_api
    let nvrtc: sbcl_nvrtc_api
    let cublas: sbcl_cublas_api
    let cudnn: sbcl_cudnn_api?

    /// Loads `library` from the first of `configuration`'s candidates that has every symbol.
    static func load<T>(_ library: CUDALibraryConfiguration.Library, _ configuration: CUDALibraryConfiguration,
                        _ loader: (UnsafePointer<UnsafePointer<CChar>?>?, Int, UnsafeMutablePointer<T>?, UnsafeMutablePointer<CChar>?, Int) -> Int)
        throws(CUDAError) -> T {
        let candidates = configuration.candidates(for: library)
        var message = [CChar](repeating: 0, count: 4096)
        // The C side fills the table (function pointers that Swift cannot default-initialise).
        let table = UnsafeMutablePointer<T>.allocate(capacity: 1)
        defer { table.deallocate() }
        let found = withCStrings(candidates) { loader($0, candidates.count, table, &message, message.count) }
        guard found >= 0 else {
            throw .libraryMissing(library: library, tried: String(cString: message))
        }
        return table.pointee
    }

    /// The driver alone (enough to list devices).
    static func driver(_ configuration: CUDALibraryConfiguration) throws(CUDAError) -> sbcl_cuda_driver_api {
        try load(.driver, configuration, sbcl_cuda_load_driver)
    }

    /// NVRTC alone (enough to compile the kernels, no GPU needed).
    static func nvrtc(_ configuration: CUDALibraryConfiguration) throws(CUDAError) -> sbcl_nvrtc_api {
        try load(.nvrtc, configuration, sbcl_cuda_load_nvrtc)
    }

    /// Everything a backend needs.
    static func all(_ configuration: CUDALibraryConfiguration) throws(CUDAError) -> CUDALibraries {
        CUDALibraries(driver: try driver(configuration), nvrtc: try nvrtc(configuration),
                      cublas: try load(.cublas, configuration, sbcl_cuda_load_cublas),
                      cudnn: try? load(.cudnn, configuration, sbcl_cuda_load_cudnn))
    }
}

/// Calls `body` with a C array of the strings (valid during the call only).
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer<CChar>($0) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// What went wrong loading or talking to CUDA.
package enum CUDAError: Error, CustomStringConvertible, Equatable {
    /// A library could not be loaded from any candidate; `tried` lists each path and its reason.
    case libraryMissing(library: CUDALibraryConfiguration.Library, tried: String)
    /// The driver loaded but lists no usable GPU.
    case noDevice(String)
    /// A driver call returned an error.
    case call(String, result: Int32, text: String)
    /// NVRTC did not compile the kernels; the compiler's log follows.
    case compile(architecture: String, log: String)
    /// A cuBLAS call failed.
    case cublas(String, status: Int32)

    package var description: String {
        switch self {
        case .libraryMissing(let library, _) where library == .driver:
            return "no NVIDIA driver (libcuda.so.1) could be loaded; install the NVIDIA driver"
        case .libraryMissing(let library, _):
            return "\(library.title) could not be loaded from "
                + "SBCL_CUDA_LIBRARY_PATH, the CUDA toolkit, NVIDIA's Python wheels or the loader path; \(library.installHint)"
        case .noDevice(let what): return what
        case .call(let name, let result, let text): return "\(name) failed with CUDA error \(result) (\(text))"
        case .compile(let architecture, let log): return "the kernels did not compile for \(architecture) with NVRTC:\n\(log)"
        case .cublas(let name, let status): return "cuBLAS \(name) failed with status \(status)"
        }
    }
}
