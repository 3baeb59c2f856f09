import CCUDA
import CUDABackend
import Engine
import Foundation
import XCTest

/// The documented search order for NVIDIA's libraries, and what a user reads when one is missing.
final class LibrarySearchTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-cuda-search-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func touch(_ path: String) throws -> String {
        let url = folder.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: url.path, contents: Data())
        return url.path
    }

    func testAConfiguredFolderComesFirstThenWheelsOfTheVirtualEnvironmentThenTheLoaderPath() throws {
        let explicit = try touch("mine/libcublas.so.12")
        let wheel13 = try touch("venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13")
        let wheel12 = try touch("venv/lib/python3.12/site-packages/nvidia/cublas/lib/libcublas.so.12")
        let environment = ["SBCL_CUDA_LIBRARY_PATH": folder.appendingPathComponent("mine").path + ":/nonexistent",
                           "VIRTUAL_ENV": folder.appendingPathComponent("venv").path]
        let candidates = CUDALibraryConfiguration(environment: environment).candidates(for: .cublas)
        XCTAssertEqual(candidates.first, explicit)
        let (i13, i12) = (candidates.firstIndex(of: wheel13), candidates.firstIndex(of: wheel12))
        XCTAssertNotNil(i13, "\(candidates)")
        XCTAssertLessThan(i13 ?? .max, i12 ?? -1, "CUDA 13 wheels before CUDA 12 ones")
        XCTAssertEqual(Array(candidates.suffix(3)), ["libcublas.so.13", "libcublas.so.12", "libcublas.so"],
                       "the loader's own path last, by name")
        XCTAssertFalse(candidates.contains { $0.hasPrefix("/nonexistent") }, "folders without the file are left out")
    }

    func testTheDriverIsNeverLookedForInTheToolkitOrWheels() throws {
        let mine = try touch("drv/libcuda.so.1")
        let candidates = CUDALibraryConfiguration(directories: [folder.appendingPathComponent("drv").path]).candidates(for: .driver)
        XCTAssertEqual(candidates.first, mine)
        XCTAssertTrue(candidates.contains("libcuda.so.1"))
        XCTAssertFalse(candidates.contains { $0.contains("/usr/local/cuda") || $0.contains("site-packages") }, "\(candidates)")
    }

    /// A candidate that is not a library is skipped with its reason, and the next one tried.
    func testTheLoaderReportsEveryPathItTried() throws {
        let fake = try touch("libcudnn.so.9")
        var message = [CChar](repeating: 0, count: 1024)
        let paths = [fake, "/nonexistent/libcudnn.so.9", "libc.so.6"]
        let table = paths.map { strdup($0) }
        defer { table.forEach { free($0) } }
        func probe(_ symbol: String) -> Int {
            table.map { UnsafePointer<CChar>($0) }.withUnsafeBufferPointer {
                sbcl_cuda_probe($0.baseAddress, paths.count, symbol, &message, message.count)
            }
        }
        XCTAssertEqual(probe("cudnnGetVersion"), -1)
        let text = String(cString: message)
        XCTAssertTrue(text.contains(fake) && text.contains("/nonexistent/libcudnn.so.9") && text.contains("libc.so.6: has no symbol cudnnGetVersion"), text)
        XCTAssertEqual(probe("malloc"), 2, "the first candidate that loads and has the symbol")
    }

    /// Where cuBLAS or cuDNN is on the search path (NVIDIA's wheels, the toolkit), every symbol the
    /// backend needs resolves in it: the names of `sbcl_cuda.h` against the real library.
    func testTheInstalledCuBLASAndCuDNNHaveEverySymbolTheBackendUses() throws {
        let configuration = CUDATestLibraries.configuration
        var found = 0
        for library in [CUDALibraryConfiguration.Library.cublas, .cudnn] {
            let candidates = configuration.candidates(for: library).filter { $0.hasPrefix("/") }
            guard !candidates.isEmpty else { continue }
            found += 1
            var message = [CChar](repeating: 0, count: 4096)
            let copies = candidates.map { strdup($0) }
            defer { copies.forEach { free($0) } }
            let index = copies.map { UnsafePointer<CChar>($0) }.withUnsafeBufferPointer { paths -> Int in
                switch library {
                case .cublas:
                    let table = UnsafeMutablePointer<sbcl_cublas_api>.allocate(capacity: 1)
                    defer { table.deallocate() }
                    return sbcl_cuda_load_cublas(paths.baseAddress, candidates.count, table, &message, message.count)
                default:
                    let table = UnsafeMutablePointer<sbcl_cudnn_api>.allocate(capacity: 1)
                    defer { table.deallocate() }
                    return sbcl_cuda_load_cudnn(paths.baseAddress, candidates.count, table, &message, message.count)
                }
            }
            XCTAssertGreaterThanOrEqual(index, 0, "\(library): \(String(cString: message))")
            print("\(library) loads from \(candidates[0])")
        }
        if found == 0 { throw XCTSkip("no cuBLAS or cuDNN on the search path (SBCL_CUDA_LIBRARY_PATH, the toolkit, NVIDIA's wheels)") }
    }

    func testAMissingLibraryIsOneSentenceSayingWhatToInstall() {
        let cublas = CUDAError.libraryMissing(library: .cublas, tried: "…")
        XCTAssertTrue("\(cublas)".contains("pip install nvidia-cublas-cu12 nvidia-cuda-nvrtc-cu12"), "\(cublas)")
        XCTAssertFalse("\(cublas)".contains("\n"))
        let driver = CUDAError.libraryMissing(library: .driver, tried: "…")
        XCTAssertEqual("\(driver)", "no NVIDIA driver (libcuda.so.1) could be loaded; install the NVIDIA driver")
    }

    /// On a machine without an NVIDIA driver `cuda` is refused in one sentence that names the
    /// fallback, and `auto` runs on the CPU saying why.
    func testWithoutADriverCUDAIsRefusedAndAutoFallsBack() throws {
        _ = DeviceUnderTest.opened   // registers the backend
        guard case .failure(let error) = DeviceUnderTest.opened else { throw XCTSkip("this machine has a CUDA GPU") }
        guard case .libraryMissing(.driver, _) = error else { throw XCTSkip("a driver loads here: \(error)") }
        for name in ["cuda", "cuda:1"] {
            XCTAssertThrowsError(try DeviceSelection.select(name)) { error in
                XCTAssertEqual("\(error)", "device '\(name)' is not usable here: no NVIDIA driver (libcuda.so.1) could be "
                               + "loaded; install the NVIDIA driver. Run with --device cpu (or auto).")
            }
        }
        let auto = try DeviceSelection.select("auto")
        XCTAssertTrue(auto.note?.contains("no NVIDIA driver (libcuda.so.1)") == true, auto.note ?? "nil")
        XCTAssertThrowsError(try DeviceSelection.select("cuda:x")) { error in
            XCTAssertTrue("\(error)".hasPrefix("unknown device 'cuda:x'"), "\(error)")
        }
    }
}
