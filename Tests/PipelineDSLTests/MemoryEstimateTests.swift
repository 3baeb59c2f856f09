import Foundation
import PipelineDSL
import XCTest

/// Plan-time memory estimates: computed from a stage's and its inputs' parameters and the ranks,
/// shown by `plan`, and turned into recipe errors for stages still to compute that do not fit.
final class MemoryEstimateTests: XCTestCase {
    /// A "trainer" whose estimate is batch × the `side` of its `views` input squared, in MiB.
    private func registry() -> StageRegistry {
        var registry = StageRegistry()
        registry.register(StageKind.light(name: "views", version: 1, summary: "image side",
                                          parameters: [.int("side", default: 32, range: .atLeast(1), doc: "side")]))
        registry.register(StageKind(name: "trainer", version: 1, summary: "a stand-in",
                                    parameters: [.int("batch", default: 4, range: .atLeast(1), doc: "batch"),
                                                 .bool("extra", default: false, doc: "inapplicable when false")],
                                    inputs: [.one("views", of: "views")],
                                    memoryEstimate: { query in
                                        let side = query.input("views")!.parameters.int("side")
                                        let perRank = query.spec.parameters.int("batch") / query.ranks
                                        return MemoryEstimate(bytes: perRank * side * side << 20, breakdown: "\(perRank) images",
                                                              advice: "lower batch")
                                    },
                                    inapplicableParameters: { $0.bool("extra") ? [] : ["extra"] },
                                    run: { _ in }))
        return registry
    }

    private func plan(ranks: Int = 1, _ overrides: [String] = []) throws -> Plan {
        let text = "name: mem\nstages:\n  v: {kind: views}\n  train: {kind: trainer, inputs: [v]}\n"
        let recipe = try Planner.recipe(text: text, file: "mem.yaml", overrides: overrides.map(Override.parse), registry: registry())
        return try Planner.plan(recipe, registry: registry(), ranks: ranks)
    }

    func testEstimateFollowsInputsAndRanksAndIsShown() throws {
        XCTAssertEqual(try plan().stage(named: "train")?.memory?.bytes, 4 * 32 * 32 << 20)
        XCTAssertEqual(try plan(["stages.v.side=64"]).stage(named: "train")?.memory?.bytes, 4 * 64 * 64 << 20)
        XCTAssertEqual(try plan(ranks: 2).stage(named: "train")?.memory?.bytes, 2 * 32 * 32 << 20)
        XCTAssertNil(try plan().stage(named: "v")?.memory)
        let json = PlanReport.json(try plan()) { _ in .pending }.prettyJSON()
        XCTAssertTrue(json.contains("\"estimated_bytes\": \(4 * 32 * 32 << 20)"), json)
    }

    func testOnlyStagesStillToComputeAreRefusedWithEstimateAndAdvice() throws {
        let plan = try plan()  // 4 GiB
        XCTAssertTrue(plan.memoryDiagnostics(limit: 8 << 30) { _ in false }.isEmpty)
        let refused = plan.memoryDiagnostics(limit: 2 << 30) { _ in false }
        XCTAssertEqual(refused.count, 1)
        XCTAssertEqual(refused.first?.keyPath, "stages.train")
        let message = refused.first?.message ?? ""
        for part in ["4.0 GiB", "2.0 GiB", "4 images", "lower batch", MachineMemory.limitVariable] {
            XCTAssertTrue(message.contains(part), "'\(part)' missing from: \(message)")
        }
        XCTAssertTrue(plan.memoryDiagnostics(limit: 2 << 30) { $0.name == "train" }.isEmpty, "a cached stage never runs")
    }

    func testLimitFromTheEnvironment() throws {
        XCTAssertEqual(try MachineMemory.limit(setting: "64G"), 64 << 30)
        XCTAssertEqual(try MachineMemory.limit(setting: "512MiB"), 512 << 20)
        XCTAssertEqual(try MachineMemory.limit(setting: "1.5T"), 3 << 39)
        XCTAssertEqual(try MachineMemory.limit(setting: "1000"), 1000)
        XCTAssertThrowsError(try MachineMemory.limit(setting: "lots"))
        XCTAssertGreaterThan(try MachineMemory.limit(setting: nil), 1 << 28)
    }

    func testInapplicableParametersStayOutOfTheHash() throws {
        let base = try plan().stage(named: "train")!
        XCTAssertFalse(base.hashInput.contains("extra"))
        let on = try plan(["stages.train.extra=true"]).stage(named: "train")!
        XCTAssertTrue(on.hashInput.contains("\"extra\":true"))
        XCTAssertNotEqual(on.hash, base.hash)
    }
}
