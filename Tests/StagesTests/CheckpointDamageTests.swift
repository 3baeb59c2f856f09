import XCTest
import Foundation
import PipelineDSL
import Engine
import Datasets
import TestSupport
@testable import Stages

/// An encoder checkpoint whose metadata was edited (its epoch raised, which used to get a
/// partly trained encoder committed as the finished one) fails its digest: the run says so and
/// resumes from the previous checkpoint.
final class CheckpointDamageTests: XCTestCase {
    func testAnEditedEpochIsCaughtAndTheRunResumesFromThePreviousCheckpoint() throws {
        #if DEBUG
        throw XCTSkip("trains a network; run with -c release -Xswiftc -enable-testing")
        #else
        let plan = try planFirstStage(firstStageRecipe(clustering: tinyClustering, encoder: tinyEncoder))
        let data = tinyDataArtifact()
        let folder = try temporaryFolder(self)
        let first = try encoderContext(plan: plan, data: data, folder: folder)
        XCTAssertThrowsError(try EncoderStage.run(first, stopAfterEpoch: 2))
        let url = EncoderCheckpoint.url(in: first.checkpointDirectory)
        var file = try SafeTensors.read(contentsOf: url)
        XCTAssertEqual(file.metadata["epoch"], "2")
        file.metadata["epoch"] = "4"
        try SafeTensors.write(file, to: url)

        let logURL = folder.appendingPathComponent("resume.log")
        let resumed = try encoderContext(plan: plan, data: data, folder: folder, isResuming: true, log: logURL)
        try EncoderStage.run(resumed)
        let log = try String(contentsOf: logURL, encoding: .utf8)
        XCTAssertTrue(log.contains("the checkpoint \(url.path) does not match its digest (damaged or edited); "
                                   + "resuming from the previous checkpoint encoder-checkpoint.safetensors.previous instead"), log)
        XCTAssertTrue(log.contains("resuming after epoch 1"), log)
        for epoch in 2...4 { XCTAssertTrue(log.contains("epoch \(epoch)/4"), "epoch \(epoch) is trained: \(log)") }
        XCTAssertTrue(FileManager.default.fileExists(atPath: resumed.outputDirectory.appendingPathComponent(EncoderArtifact.weightsFile).path))
        #endif
    }
}
