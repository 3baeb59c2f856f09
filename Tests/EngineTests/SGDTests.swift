import Engine
import Foundation
import XCTest

/// SGD against `torch.optim.SGD` step by step (scripts/fidelity/sgd_reference.py): momentum, weight
/// decay, dampening, Nesterov, a learning rate that changes between steps, and a parameter without a
/// gradient in one step (torch skips it entirely: no decay, no momentum update).
final class SGDTests: XCTestCase {
    private struct Case: Decodable {
        var momentum: Float, weight_decay: Float, dampening: Float, nesterov: Bool
        var lrs: [Float]
        var initial: [[Float]]
        var grads: [[[Float]?]]
        var after: [[[Double]]]
    }

    func testStepsMatchTorchOptimSGD() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/sgd_golden", withExtension: "json"))
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: url))
        XCTAssertEqual(cases.count, 5)
        for (k, c) in cases.enumerated() {
            let parameters = c.initial.map { Parameter(Tensor($0, shape: [$0.count])) }
            let sgd = SGD(parameters: parameters.enumerated().map { ("p\($0.offset)", $0.element) }, learningRate: c.lrs[0],
                          momentum: c.momentum, weightDecay: c.weight_decay, dampening: c.dampening, nesterov: c.nesterov)
            for (step, rate) in c.lrs.enumerated() {
                // A loss Σ p·g has gradient g with respect to each p it contains.
                var loss: Tensor?
                for (p, g) in zip(parameters, c.grads[step]) {
                    guard let g else { continue }
                    let term = (p.value * Tensor(g, shape: [g.count])).sum()
                    loss = loss.map { $0 + term } ?? term
                }
                sgd.learningRate = rate
                sgd.step(try XCTUnwrap(loss).gradients())
                for (i, p) in parameters.enumerated() {
                    let expected = c.after[step][i], actual = p.value.scalars
                    for j in 0..<expected.count {
                        XCTAssertEqual(Double(actual[j]), expected[j], accuracy: 2e-6 * max(1, abs(expected[j])),
                                       "case \(k) (momentum \(c.momentum), decay \(c.weight_decay), dampening \(c.dampening), nesterov \(c.nesterov)): step \(step + 1), p\(i)[\(j)]")
                    }
                }
            }
        }
    }
}
