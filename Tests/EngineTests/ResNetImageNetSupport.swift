import Foundation
import XCTest
import Engine
import TestSupport

extension XCTestCase {
    func imagenetFixture(_ name: String) throws -> SafeTensorsFile {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "safetensors"))
        return try SafeTensors.read(contentsOf: url)
    }

    /// Largest |a − b| / max(|b|) over the arrays: the error relative to the array's scale.
    func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "relativeError: \(a.count) vs \(b.count) values")
        let scale = max(b.map(abs).max() ?? 0, 1e-30)
        return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
    }
}
