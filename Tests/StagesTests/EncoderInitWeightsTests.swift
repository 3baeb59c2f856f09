import Foundation
import XCTest
import PipelineDSL
import Engine
import TestSupport
@testable import Stages

/// `encoder.init_weights`: training starts from a given state dict (the fidelity harness feeds the
/// authors' initial weights this way), and the file's content is part of the stage's hash.
final class EncoderInitWeightsTests: XCTestCase {
    /// Writes the state of a ResNet-20 for 1-channel images made with `seed`, names under `prefix`.
    private func writeWeights(seed: UInt32, prefix: String, to url: URL, depth: Int = 20) throws -> SupConResNet {
        let model = SupConResNet(depth: depth, inputChannels: 1, seed: seed)
        try SafeTensors.write(model.stateArrays().map { (name: prefix + $0.name, array: $0.array) }, to: url)
        return model
    }

    private func encoderHash(_ plan: Plan) -> String { plan.stage(named: "encoder")!.hash }

    func testTheFileContentEntersTheHashAndAMissingFileIsAPlanError() throws {
        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent("init.safetensors")
        _ = try writeWeights(seed: 5, prefix: "", to: url)
        let without = try planFirstStage(firstStageRecipe(clustering: tinyClustering, encoder: tinyEncoder))
        let with5 = try planFirstStage(firstStageRecipe(clustering: tinyClustering, encoder: tinyEncoder + "\ninit_weights: \(url.path)"))
        let again5 = try planFirstStage(firstStageRecipe(clustering: tinyClustering, encoder: tinyEncoder + "\ninit_weights: \(url.path)"))
        XCTAssertNotEqual(encoderHash(without), encoderHash(with5))
        XCTAssertEqual(encoderHash(with5), encoderHash(again5))
        _ = try writeWeights(seed: 6, prefix: "", to: url)
        let with6 = try planFirstStage(firstStageRecipe(clustering: tinyClustering, encoder: tinyEncoder + "\ninit_weights: \(url.path)"))
        XCTAssertNotEqual(encoderHash(with5), encoderHash(with6), "other weights in the same file must change the hash")

        let missing = folder.appendingPathComponent("nowhere.safetensors").path
        XCTAssertThrowsError(try planFirstStage(firstStageRecipe(clustering: tinyClustering, encoder: tinyEncoder + "\ninit_weights: \(missing)"))) { error in
            XCTAssert("\(error)".contains("init_weights: \(missing) does not exist"), "\(error)")
        }
    }

    func testTrainingStartsFromTheFileWithOrWithoutTheCheckpointPrefix() throws {
        let data = tinyDataArtifact()
        for prefix in ["", "model."] {
            let folder = try temporaryFolder(self)
            let url = folder.appendingPathComponent("init.safetensors")
            let source = try writeWeights(seed: 99, prefix: prefix, to: url)
            let plan = try planFirstStage(firstStageRecipe(clustering: tinyClustering, encoder: tinyEncoder + "\ninit_weights: \(url.path)"))
            let training = try EncoderTraining(context: encoderContext(plan: plan, data: data, folder: folder))
            let loaded = Dictionary(uniqueKeysWithValues: training.model.stateArrays().map { ($0.name, $0.array) })
            for (name, array) in source.stateArrays() {
                XCTAssertEqual(loaded[name], array, "prefix '\(prefix)': \(name) is not the file's")
            }
            // The recipe's seed (3) alone gives other weights: the file, not the seed, made these.
            let seeded = SupConResNet(depth: 20, inputChannels: 1, seed: 3).stateArrays()
            XCTAssertNotEqual(seeded.first { $0.name == "encoder.conv1.weight" }?.array, loaded["encoder.conv1.weight"])
        }
    }

    func testWeightsOfAnotherNetworkAreRefusedNamingTheFile() throws {
        let folder = try temporaryFolder(self)
        let url = folder.appendingPathComponent("resnet32.safetensors")
        _ = try writeWeights(seed: 1, prefix: "", to: url, depth: 32)
        let plan = try planFirstStage(firstStageRecipe(clustering: tinyClustering, encoder: tinyEncoder + "\ninit_weights: \(url.path)"))
        XCTAssertThrowsError(try EncoderTraining(context: encoderContext(plan: plan, data: tinyDataArtifact(), folder: folder))) { error in
            let text = (error as? RunError)?.message ?? "\(error)"
            XCTAssert(text.contains("init_weights \(url.path): cannot start from these weights"), text)
        }
    }
}
