// libFuzzer entry for the tensor file readers, compiled by scripts/fuzz.sh together with
// Sources/Engine/IO. SBCL_FUZZ_TARGET picks the reader: npy or safetensors. Every input must
// end in a value or a thrown TensorFileError; a trap, a sanitizer report or a timeout is a finding.
#if canImport(Glibc)
import Glibc
#endif

private let target: String = {
    guard let name = getenv("SBCL_FUZZ_TARGET") else { return "npy" }
    return String(cString: name)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTensorIO(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch target {
    case "npy":
        if let array = try? NPY.decode(bytes, path: "fuzz.npy") {
            _ = try? array.checkNonEmpty(path: "fuzz.npy")
            _ = try? array.checkFinite(path: "fuzz.npy")
            // What was read writes back and reads again to the same array.
            if let encoded = try? NPY.encode(array), let again = try? NPY.decode(encoded, path: "again.npy"), again != array {
                fatalError("NPY round trip changed the array")
            }
        }
    case "safetensors":
        if let file = try? SafeTensors.decode(bytes, path: "fuzz.safetensors") {
            for (_, array) in file.tensors { _ = try? array.checkFinite(path: "fuzz.safetensors") }
        }
    default:
        fatalError("SBCL_FUZZ_TARGET=\(target): expected npy or safetensors")
    }
    return 0
}
