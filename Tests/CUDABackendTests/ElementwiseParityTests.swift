import Engine
import CUDABackend
import TestSupport
import XCTest

/// Every element-wise kernel against the CPU backend on random values, odd sizes and broadcast
/// shapes: ≤ 1e-5 relative.
final class ElementwiseParityTests: XCTestCase {
    static let sizes = [1, 7, 63, 65, 1023, 4099, 65_537]

    func testUnaryOpsMatchTheCPU() throws {
        let device = try DeviceUnderTest.backend()
        var random = TestRandom(seed: 1)
        let ops: [(String, (Tensor) -> Tensor, Float, Float)] = [
            ("negate", { -$0 }, -3, 3), ("exp", { $0.exp() }, -8, 8), ("log", { $0.log() }, 1e-3, 50),
            ("sqrt", { $0.sqrt() }, 0, 40), ("relu", { $0.relu() }, -2, 2), ("scale", { $0.scaled(by: -0.37) }, -5, 5),
            ("addScalar", { $0 + 2.5 }, -5, 5), ("pow", { $0.pow(1.7) }, 0.01, 9), ("pow-int", { $0.pow(2) }, -3, 3),
        ]
        for (name, f, low, high) in ops {
            for n in Self.sizes {
                let x = random.tensor([n], low, high)
                assertMatches(f(x.moved(to: device)), f(x), tolerance: 1e-5, "\(name) n=\(n)")
            }
        }
    }

    func testBinaryOpsWithBroadcastingMatchTheCPU() throws {
        let device = try DeviceUnderTest.backend()
        var random = TestRandom(seed: 2)
        let shapes: [([Int], [Int])] = [
            ([1], [1]), ([4099], [4099]), ([5, 7, 3], [7, 1]), ([3, 1, 5], [1, 4, 1]), ([17, 33], [1]),
            ([2, 3, 4, 5, 6], [3, 1, 5, 1]), ([9], [13, 9]), ([1, 1, 1, 1, 1, 1, 1, 3], [2, 1, 1, 1, 1, 1, 1, 1]),
        ]
        let ops: [(String, (Tensor, Tensor) -> Tensor)] = [("add", +), ("subtract", -), ("multiply", *), ("divide", /)]
        for (sa, sb) in shapes {
            let a = random.tensor(sa, -2, 2)
            // Divisors away from zero, so the quotient's relative error is the kernel's, not the data's.
            let b = Tensor(random.uniform(sb.reduce(1, *), 0.5, 2).enumerated().map { $0.offset % 2 == 0 ? $0.element : -$0.element },
                           shape: sb)
            let (da, db) = (a.moved(to: device), b.moved(to: device))
            for (name, f) in ops {
                assertMatches(f(da, db), f(a, b), tolerance: 1e-5, "\(name) \(sa) ∘ \(sb)")
            }
        }
    }

    func testMaskedFillWithAnInt32MaskMatchesTheCPU() throws {
        let device = try DeviceUnderTest.backend()
        var random = TestRandom(seed: 3)
        let x = random.tensor([7, 65])
        let mask = Tensor(int32: (0..<65).map { Int32($0 % 3 == 0 ? 1 : 0) }, shape: [1, 65])
        assertMatches(x.moved(to: device).maskedFill(mask.moved(to: device), with: -9),
                      x.maskedFill(mask, with: -9), tolerance: 0, "maskedFill")
    }

    /// The pullbacks run the backward kernels (relu, sqrt, pow, divide's divisor, broadcast sums).
    func testPullbacksOfElementwiseOpsMatchTheCPU() throws {
        let device = try DeviceUnderTest.backend()
        var random = TestRandom(seed: 4)
        let x = random.tensor([6, 5, 7], 0.2, 3), y = random.tensor([5, 1], 0.5, 2)
        func loss(_ x: Tensor, _ y: Tensor) -> Tensor {
            let a = (x.sqrt() * y).relu() + x.pow(1.5) / y
            return (a.exp().scaled(by: 0.01) - (x + 1).log()).mean()
        }
        let cx = x.trackingGradients(), cy = y.trackingGradients()
        let dx = x.moved(to: device).trackingGradients(), dy = y.moved(to: device).trackingGradients()
        let cpuLoss = loss(cx, cy), deviceLoss = loss(dx, dy)
        assertMatches(deviceLoss, cpuLoss, tolerance: 1e-5, "loss")
        let cg = cpuLoss.gradients(), dg = deviceLoss.gradients()
        assertMatches(dg[dx]!, cg[cx]!, tolerance: 1e-5, "∂loss/∂x")
        assertMatches(dg[dy]!, cg[cy]!, tolerance: 1e-4, "∂loss/∂y (a broadcast sum)")
    }
}
