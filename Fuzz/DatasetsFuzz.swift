// libFuzzer entry for the data readers, compiled by scripts/fuzz.sh together with the Datasets
// sources it needs (one module, no package build). SBCL_FUZZ_TARGET picks the reader:
// png, jpeg, inflate, split, idx, cifar. Every input must end in a value or a thrown
// DatasetError; a trap, a sanitizer report, a leak or a timeout is a finding.
#if canImport(Glibc)
import Glibc
#endif

/// Small limits so that a mutated header cannot make one run allocate gigabytes legitimately.
private let fuzzLimits = ImageLimits(maxPixels: 1 << 18, maxFileBytes: 1 << 26)

private let target: String = {
    guard let name = getenv("SBCL_FUZZ_TARGET") else { return "png" }
    return String(cString: name)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDatasets(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch target {
    case "png":
        _ = try? PNGDecoder.header(bytes, path: "fuzz.png", limits: fuzzLimits)
        _ = try? PNGDecoder.decode(bytes, path: "fuzz.png", limits: fuzzLimits)
    case "jpeg":
        _ = try? JPEGDecoder.header(bytes, path: "fuzz.jpg", limits: fuzzLimits)
        let scale = bytes.isEmpty ? 8 : Int(bytes[bytes.count - 1] % 8) + 1
        _ = try? JPEGDecoder.decode(bytes, path: "fuzz.jpg", gray: scale % 2 == 0, scaleNumerator: scale, limits: fuzzLimits)
    case "inflate":
        _ = try? Gzip.inflate(bytes, path: "fuzz.gz", maxOutput: 1 << 20)
        _ = try? Gzip.inflate(bytes, path: "fuzz.gz", maxOutput: 4096, stopAtLimit: true)
    case "split":
        _ = try? SplitFile.parse(bytes, path: "fuzz.txt", classCount: 1000)
        let name = POSIXName.string(bytes)
        if POSIXName.bytes(of: name) != bytes { fatalError("POSIXName does not round-trip \(bytes)") }
    case "idx":
        _ = try? IDXReader.decode(bytes, path: "fuzz.idx")
    case "cifar":
        if let dict = try? PickleReader.load(bytes, path: "fuzz.pkl"), let array = dict["data"] {
            _ = try? NumpyPickle.uint8Matrix(array, path: "fuzz.pkl")
        }
    default:
        fatalError("SBCL_FUZZ_TARGET=\(target): expected png, jpeg, inflate, split, idx or cifar")
    }
    return 0
}
