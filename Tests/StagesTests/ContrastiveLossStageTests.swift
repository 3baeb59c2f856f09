import XCTest
import PipelineDSL
import Engine
@testable import Stages

final class ContrastiveLossStageTests: XCTestCase {
    private func settings(_ lines: String = "") throws -> ContrastiveLossStage.Losses {
        ContrastiveLossStage.Losses(try planFirstStage(firstStageRecipe(loss: lines)).stage(named: "loss")!.spec.parameters)
    }

    func testDefaultsAreTheReferenceLosses() throws {
        let s = try settings()
        XCTAssertEqual(s.warmup, .supCon(temperature: 0.1, baseTemperature: 0.1))
        XCTAssertEqual(s.main, .sbclRank(temperature: 0.1, baseTemperature: 0.07, gamma: 0.25))
        XCTAssertEqual(s, ContrastiveLossStage.Losses(.defaults))
        XCTAssertEqual(s.temperature, 0.1)
        XCTAssertTrue(s.needsSubclasses)
    }

    func testVariantsAndTemperatures() throws {
        XCTAssertEqual(try settings("variant: ccl\ngamma: 0.5").main, .sbclCCL(temperature: 0.1, baseTemperature: 0.07, gamma: 0.5))
        // supcon is the reference's plain SupConLoss: its τ_base is SupConLoss's (0.1, the warm-up's
        // warmup_base_temperature), not the SBCL losses' base_temperature (0.07).
        XCTAssertEqual(try settings("variant: supcon").main, .supCon(temperature: 0.1, baseTemperature: 0.1))
        let supcon = try settings("variant: supcon\ntemperature: 0.2\nbase_temperature: 0.5\nwarmup_base_temperature: 0.2")
        XCTAssertEqual(supcon.main, .supCon(temperature: 0.2, baseTemperature: 0.2))
        XCTAssertFalse(supcon.needsSubclasses)
        XCTAssertEqual(try settings("warmup_temperature: 0.3").warmup, .supCon(temperature: 0.3, baseTemperature: 0.1))
        XCTAssertEqual(supcon.objective, .contrastive)
        let ce = try settings("variant: ce")
        XCTAssertEqual(ce.objective, .crossEntropy)
        XCTAssertFalse(ce.needsSubclasses, "the cross-entropy baseline never re-clusters")
    }

    func testRangesAreCheckedAtPlanTime() {
        XCTAssertThrowsError(try settings("temperature: 0")) { error in
            XCTAssert("\(error)".contains("stages.loss.temperature"), "\(error)")
        }
        XCTAssertThrowsError(try settings("variant: rnak")) { error in
            XCTAssert("\(error)".contains("rank"), "\(error)")
        }
    }
}
