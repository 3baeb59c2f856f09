import XCTest
@testable import Engine

/// Deterministic pseudo-random floats in [-1, 1) for kernel tests.
func kernelTestValues(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
    }
}

/// Asserts `actual` ≈ `expected` elementwise: |a − e| ≤ atol + rtol·|e|.
func assertClose(_ actual: [Float], _ expected: [Double], rtol: Double = 1e-4, atol: Double = 1e-4,
                 _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "count \(message)", file: file, line: line)
    var worst = 0.0, worstIndex = -1
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let excess = abs(Double(a) - e) - (atol + rtol * abs(e))
        if excess > worst { worst = excess; worstIndex = i }
    }
    if worstIndex >= 0 {
        XCTFail("\(message): element \(worstIndex) is \(actual[worstIndex]), expected \(expected[worstIndex])",
                file: file, line: line)
    }
}

/// Calls `body` with a thread pool of each of the given sizes.
func withPools(_ counts: [Int] = [1, 2, 3], _ body: (ThreadPool) throws -> Void) rethrows {
    for c in counts { try body(ThreadPool(threadCount: c)) }
}

/// Test-owned float memory, so kernels can be called without escaping an array's pointer.
/// Keep it alive across the kernel call (read `array` afterwards, or `withExtendedLifetime`).
final class FloatBuffer {
    let mutable: UnsafeMutableBufferPointer<Float>

    init(_ values: [Float]) {
        mutable = .allocate(capacity: values.count)
        _ = mutable.initialize(from: values)
    }

    convenience init(count: Int, value: Float = .nan) { self.init([Float](repeating: value, count: count)) }

    deinit { mutable.deallocate() }

    var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(mutable) }
    var array: [Float] { Array(mutable) }
}
