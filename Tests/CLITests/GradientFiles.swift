import Engine
import Foundation
import XCTest

/// The largest ‖a − b‖ / ‖a‖ over the tensors of two gradient files (the data-parallel tests'
/// comparison of `sbcl-bench step --dump-gradients` outputs).
func largestRelativeDifference(_ a: SafeTensorsFile, _ b: SafeTensorsFile) throws -> Double {
    XCTAssertEqual(a.names, b.names)
    var worst = 0.0
    for name in a.names {
        let x = try a.array(named: name).floats(), y = try b.array(named: name).floats()
        let difference = zip(x, y).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
        let norm = x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        worst = max(worst, difference / max(norm, 1e-30))
    }
    return worst
}
