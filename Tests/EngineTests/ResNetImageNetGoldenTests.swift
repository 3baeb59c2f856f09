import Foundation
import XCTest
import Engine
import TestSupport

/// torchvision's ResNets against torchvision: state names and shapes, and ResNet-50's forward
/// (training and evaluation), backward and running statistics on a 2×3×64×64 input, from weights
/// both sides compute from one formula. Figures from scripts/goldens/resnet_imagenet_golden.py
/// (float64 in PyTorch; float32 here).
///
/// Forward values agree to ≤ 2e-4 of each array's largest value (measured: 5.6e-5 for the
/// logits, 1.7e-4 for the pooled features, 7.5e-6 in evaluation, 3.6e-5 for running statistics).
/// Gradients cannot be held to that: among the ~2M ReLU inputs of ResNet-50 a few lie within the
/// float32 error of zero and take the other side of the kink. Measured: `layer4.2.bn3.bias` has
/// two channels off by 2% and the other 2046 within 5e-7; everything upstream inherits those two
/// flips (median 1e-3, largest 1.5e-2, `layer4.2.bn3.weight` 5.4e-2 in one channel). So gradients
/// are held to a median of 5e-3 (measured ≤ 3.0e-3) and a largest error of 6e-2; MoCoGoldenTests (ResNet-18, fewer
/// ReLUs) holds its query gradients to 2e-3.
final class ResNetImageNetGoldenTests: XCTestCase {
    func testStateNamesAndShapesAreTorchvisions() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/resnet_imagenet_names", withExtension: "json"))
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: [[Any]]])
        for architecture in ResNetImageNet.Architecture.allCases {
            let model = ResNetImageNet(architecture, seed: 1)
            let ours = model.stateArrays().map { [$0.name, $0.array.shape.map(String.init).joined(separator: "x"), $0.array.dtype.rawValue] }
            let theirs = try XCTUnwrap(expected[architecture.rawValue]).map { entry in
                [entry[0] as! String, (entry[1] as! [Int]).map(String.init).joined(separator: "x"), entry[2] as! String]
            }
            XCTAssertEqual(ours, theirs, architecture.rawValue)
        }
    }

    func testResNet50ForwardBackwardAndEvaluationMatchTorchvision() throws {
        let golden = try imagenetFixture("resnet50_golden")
        let model = ResNetImageNet(.resnet50, seed: 2)
        GoldenFormula.setState(model)
        let input = GoldenFormula.image(20000, [2, 3, 64, 64]).trackingGradients()
        let features = model.features(input, training: true)
        let out = model.head(features)
        var worst: [String: Float] = [:]
        func check(_ name: String, _ actual: [Float], tolerance: Float = 2e-4) throws {
            let expected = try golden.array(named: name).floats()
            let actual = Array(actual.prefix(expected.count))
            let error = relativeError(actual, expected)
            worst[name] = error
            if name.hasPrefix("grad.") {
                let scale = max(expected.map(abs).max() ?? 0, 1e-30)
                let errors = zip(actual, expected).map { abs($0 - $1) / scale }.sorted()
                XCTAssertLessThanOrEqual(errors[errors.count / 2], 5e-3, "\(name) median")
                XCTAssertLessThanOrEqual(error, 6e-2, name)
                return
            }
            if ProcessInfo.processInfo.environment["SBCL_GOLDEN_DEBUG"] != nil {
                let scale = expected.map(abs).max() ?? 1
                let errors = zip(actual, expected).map { abs($0 - $1) / scale }.sorted(by: >)
                print(name, "errors (desc):", errors.prefix(5), "median", errors[errors.count / 2], "count", errors.count)
            }
            XCTAssertLessThanOrEqual(error, tolerance, name)
        }
        try check("out", out.scalars)
        try check("features", features.scalars)
        let r = Tensor(GoldenFormula.uniform(10000, 2000).map { Float($0) }, shape: [2, 1000])
        let loss = (out * r).sum()
        // Σ of 2000 products of size ~1: 2e-3 is 1e-6 of Σ|out·R|; measured 7.4e-4.
        XCTAssertEqual(Double(loss.item), Double(golden.metadata["loss"] ?? "") ?? .nan, accuracy: 2e-3)
        let grads = loss.gradients()
        // The input gradient comes back NHWC; the golden is NCHW.
        let gradInput = try XCTUnwrap(grads[input])
        let nhwc = gradInput.scalars
        var nchw = [Float](repeating: 0, count: nhwc.count)
        for n in 0..<2 { for c in 0..<3 { for p in 0..<(64 * 64) { nchw[(n * 3 + c) * 4096 + p] = nhwc[(n * 4096 + p) * 3 + c] } } }
        try check("grad.input", nchw)
        let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0.parameter) })
        for name in golden.names where name.hasPrefix("grad.") && name != "grad.input" {
            let parameter = try XCTUnwrap(parameters[String(name.dropFirst(5))], name)
            try check(name, try XCTUnwrap(grads[parameter.value], name).scalars)
        }
        let state = Dictionary(uniqueKeysWithValues: model.stateArrays().map { ($0.name, $0.array) })
        for name in golden.names where name.hasPrefix("after.") {
            let array = try XCTUnwrap(state[String(name.dropFirst(6))], name)
            if name.hasSuffix("num_batches_tracked") {
                XCTAssertEqual(try array.int64s(), try golden.array(named: name).int64s(), name)
            } else {
                try check(name, array.floats())
            }
        }
        let evaluation = withoutGradients { () -> (Tensor, Tensor) in
            let f = model.features(input.detached, training: false)
            return (f, model.head(f))
        }
        try check("eval.features", evaluation.0.scalars)
        try check("eval.out", evaluation.1.scalars)
        print("ResNet-50 golden, largest relative error per entry:", worst.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" })
    }
}
