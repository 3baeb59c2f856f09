import Foundation
import XCTest
import Engine
import TestSupport

/// ResNet-32 + projection head against the reference PyTorch `SupConResNet`, from the same
/// weights (a file PyTorch wrote), on the same input: outputs, every gradient, running
/// statistics and eval-mode outputs. Figures from scripts/goldens/resnet32_golden.py.
final class ResNetGoldenTests: XCTestCase {
    func fixture(_ name: String) throws -> SafeTensorsFile {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "safetensors"))
        return try SafeTensors.read(contentsOf: url)
    }

    func testForwardBackwardAndRunningStatsMatchPyTorch() throws {
        let weights = try fixture("resnet32_golden_weights")
        let golden = try fixture("resnet32_golden")
        let goldenGrads = try fixture("resnet32_golden_grads")
        let model = try SupConResNet(checkpoint: weights)
        XCTAssertEqual(model.state.count, weights.names.count)

        let inputArray = try golden.array(named: "input")
        let input = Tensor(inputArray.floats(), shape: inputArray.shape).trackingGradients()
        let features = model.features(input.nchwToNHWC(), training: true)
        let projection = model.project(features)
        assertAllClose(features.scalars, try golden.array(named: "features").floats(), rtol: 1e-4, atol: 1e-5, "features")
        assertAllClose(projection.scalars, try golden.array(named: "projection").floats(), rtol: 1e-4, atol: 1e-5, "projection")

        let r = try golden.array(named: "R")
        let loss = (projection * Tensor(r.floats(), shape: r.shape)).sum()
        XCTAssertEqual(Double(loss.item), Double(golden.metadata["loss"] ?? "") ?? .nan, accuracy: 1e-4)

        let grads = loss.gradients()
        for (name, parameter) in model.namedParameters where !name.hasPrefix("encoder.linear.") {
            let expected = try goldenGrads.array(named: "grad." + name).floats()
            let actual = try XCTUnwrap(grads[parameter.value], "no gradient for \(name)").scalars
            let scale = expected.map(abs).max() ?? 1
            assertAllClose(actual, expected, rtol: 2e-3, atol: 2e-4 * scale, "grad.\(name)")
        }
        XCTAssertNil(grads[model.encoder.linear.weight.value], "encoder.linear is not used by the forward pass")
        let gradInput = try golden.array(named: "grad.input").floats()
        assertAllClose(try XCTUnwrap(grads[input]).scalars, gradInput, rtol: 2e-3, atol: 2e-4 * (gradInput.map(abs).max() ?? 1), "grad.input")

        for (name, array) in model.stateArrays() where name.contains("running_") || name.hasSuffix("num_batches_tracked") {
            let expected = try golden.array(named: "after." + name)
            if name.hasSuffix("num_batches_tracked") {
                XCTAssertEqual(try array.int64s(), try expected.int64s(), name)
            } else {
                assertAllClose(array.floats(), expected.floats(), rtol: 1e-4, atol: 1e-5, "after.\(name)")
            }
        }

        let evalOut = withoutGradients { () -> (Tensor, Tensor) in
            let f = model.features(input.detached.nchwToNHWC(), training: false)
            return (f, model.project(f))
        }
        assertAllClose(evalOut.0.scalars, try golden.array(named: "eval.features").floats(), rtol: 1e-4, atol: 1e-5, "eval.features")
        assertAllClose(evalOut.1.scalars, try golden.array(named: "eval.projection").floats(), rtol: 1e-4, atol: 1e-5, "eval.projection")
    }

    func testSavedStateReloadsIdentically() throws {
        let model = SupConResNet(depth: 20, inputChannels: 1, seed: 3)
        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent("model.safetensors")
        try model.save(to: url)
        let reloaded = try SupConResNet(checkpoint: SafeTensors.read(contentsOf: url))
        XCTAssertEqual(reloaded.encoder.stages[0].count, 3)
        XCTAssertEqual(reloaded.stateArrays().map(\.name), model.stateArrays().map(\.name))
        XCTAssertEqual(reloaded.stateArrays().map(\.array), model.stateArrays().map(\.array))
    }

    func testCheckpointOfAnotherShapeIsRefusedWithEveryProblemNamed() throws {
        let weights = try fixture("resnet32_golden_weights")
        let model = SupConResNet(depth: 32, inputChannels: 1, projectionDimension: 64)
        XCTAssertThrowsError(try model.load(weights)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("encoder.conv1.weight"), text)
            XCTAssertTrue(text.contains("head.2.weight"), text)
        }
        var truncated = weights
        truncated.tensors.removeAll { $0.name == "encoder.layer3.4.bn2.running_var" }
        XCTAssertThrowsError(try SupConResNet(checkpoint: truncated)) { error in
            XCTAssertTrue("\(error)".contains("missing 'encoder.layer3.4.bn2.running_var'"), "\(error)")
        }
    }
}
