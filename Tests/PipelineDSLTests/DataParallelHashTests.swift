import Foundation
import PipelineDSL
import XCTest

/// The number of data-parallel ranks enters a stage's hash exactly when its kind says the artifact
/// depends on it; parameters that only choose how ranks cooperate never do.
final class DataParallelHashTests: XCTestCase {
    /// A registry with one data-parallel kind: `synced: true` makes it rank-independent.
    private func registry() -> StageRegistry {
        var registry = StageRegistry()
        registry.register(StageKind(name: "trainer", version: 1, summary: "a data-parallel stand-in",
                                    parameters: [.bool("synced", default: false, doc: "rank-independent"),
                                                 .int("epochs", default: 1, range: .atLeast(1), doc: "epochs")],
                                    dataParallel: DataParallelism(rankParameters: ["synced"]) { !$0.bool("synced") },
                                    run: { _ in }))
        registry.register(StageKind(name: "reader", version: 1, summary: "not data-parallel", parameters: [],
                                    inputs: [.one("model", of: "trainer")], run: { _ in }))
        return registry
    }

    private func plan(ranks: Int, _ overrides: [String] = []) throws -> Plan {
        let text = "name: dp\nstages:\n  train: {kind: trainer}\n  read: {kind: reader, inputs: [train]}\n"
        let recipe = try Planner.recipe(text: text, file: "dp.yaml", overrides: overrides.map(Override.parse), registry: registry())
        return try Planner.plan(recipe, registry: registry(), ranks: ranks)
    }

    func testRanksEnterTheHashOnlyWhereTheArtifactDependsOnThem() throws {
        let one = try plan(ranks: 1), two = try plan(ranks: 2), four = try plan(ranks: 4)
        XCTAssertNotEqual(one.stages[0].hash, two.stages[0].hash)
        XCTAssertNotEqual(two.stages[0].hash, four.stages[0].hash)
        XCTAssertEqual(two.stages[0].ranksInHash, 2)
        XCTAssertNil(one.stages[0].ranksInHash)
        XCTAssertNotEqual(one.stages[1].hash, two.stages[1].hash, "downstream stages follow their input's hash")
        XCTAssertNil(two.stages[1].ranksInHash)
        XCTAssertTrue(PlanReport.json(two) { _ in .pending }.prettyJSON().contains("\"ranks\": 2"))
    }

    func testRankParametersStayOutOfTheHash() throws {
        let one = try plan(ranks: 1)
        XCTAssertEqual(try plan(ranks: 1, ["stages.train.synced=true"]).stages[0].hash, one.stages[0].hash,
                       "on one process the setting changes nothing")
        XCTAssertEqual(try plan(ranks: 2, ["stages.train.synced=true"]).stages[0].hash, one.stages[0].hash,
                       "synchronised ranks keep the single-process hash")
        XCTAssertNotEqual(try plan(ranks: 1, ["stages.train.epochs=2"]).stages[0].hash, one.stages[0].hash)
    }
}
