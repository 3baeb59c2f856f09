import COpenCL
import Engine
import Foundation
import Synchronization

/// The OpenCL and CLBlast entry points, loaded once per process with `dlopen` (see `sbcl_opencl.h`).
///
/// `library` names another ICD loader than `libOpenCL.so.1` (a vendor's library in a non-standard
/// place; the executables take it from `SBCL_OPENCL_LIBRARY`, and the tests point it at a missing
/// file to see a machine without OpenCL).
enum OpenCLLibrary {
    /// What loading each library path gave (nil: the default loader), each tried once.
    private static let loaded = Mutex<[String: Result<sbcl_opencl_api, OpenCLError>]>([:])

    /// The function table, or the reason the libraries could not be loaded.
    static func api(library: String? = nil) throws(OpenCLError) -> sbcl_opencl_api {
        let path = library.flatMap { $0.isEmpty ? nil : $0 }
        let result = loaded.withLock { table in
            if let known = table[path ?? ""] { return known }
            var message = [CChar](repeating: 0, count: 512)
            let result: Result<sbcl_opencl_api, OpenCLError>
            if let entries = sbcl_opencl_load(path, nil, &message, message.count) {
                result = .success(entries.pointee)
            } else {
                result = .failure(.libraryMissing(String(cString: message)))
            }
            table[path ?? ""] = result
            return result
        }
        return try result.get()
    }
}

/// What went wrong talking to an OpenCL driver.
package enum OpenCLError: Error, CustomStringConvertible, Equatable {
    /// libOpenCL.so.1 or libclblast.so.1 is absent or incomplete.
    case libraryMissing(String)
    /// The drivers list no device of the kind asked for.
    case noDevice(String)
    /// An OpenCL call returned an error status.
    case call(String, status: Int32)
    /// The kernel source did not compile on the device; the compiler's log follows.
    case build(device: String, log: String)
    /// A CLBlast routine failed.
    case clblast(String, status: Int32)

    package var description: String {
        switch self {
        case .libraryMissing(let reason): return reason
        case .noDevice(let what): return what
        case .call(let name, let status): return "\(name) failed with OpenCL status \(status)"
        case .build(let device, let log): return "the kernels did not compile on \(device):\n\(log)"
        case .clblast(let name, let status): return "CLBlast \(name) failed with status \(status)"
        }
    }
}

/// Throws `OpenCLError.call` unless `status` is CL_SUCCESS.
@inline(__always)
func check(_ status: Int32, _ call: @autoclosure () -> String) throws(OpenCLError) {
    guard status == 0 else { throw .call(call(), status: status) }
}
