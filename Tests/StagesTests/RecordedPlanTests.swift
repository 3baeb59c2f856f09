import XCTest
import PipelineDSL
@testable import Stages

/// Every stage hash of every shipped recipe (and of variants that reach each parameter family),
/// against the hashes recorded before a refactoring (`scripts/record_plans.sh`): a change that
/// moves one would orphan every cached artifact of that kind, so it must be deliberate (a kind's
/// `version`), never a side effect of reshaping the code.
final class RecordedPlanTests: XCTestCase {
    struct Recorded: Decodable {
        var args: [String]
        var ranks: Int
        var hashes: [String: String]
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    func testEveryRecordedHashIsUnchanged() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures/recorded_plans", withExtension: "jsonl"))
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        XCTAssertGreaterThanOrEqual(lines.count, 33)
        var registry = StageRegistry()
        Stages.registerAll(in: &registry)
        var compared = 0
        for line in lines {
            let recorded = try JSONDecoder().decode(Recorded.self, from: Data(line.utf8))
            let data: Data, file: String, overrides: [String]
            if let first = recorded.args.first {
                file = Self.repository.appendingPathComponent(first).path
                data = try Data(contentsOf: URL(fileURLWithPath: file))
                overrides = Array(recorded.args.dropFirst())
            } else {
                let embedded = try XCTUnwrap(Stages.defaultRecipe)
                (data, file, overrides) = (Data(embedded.yaml.utf8), "<embedded \(embedded.name)>", [])
            }
            let recipe = try Planner.recipe(data: data, file: file, overrides: overrides.map { try Override.parse($0) }, registry: registry)
            let plan = try Planner.plan(recipe, registry: registry, ranks: recorded.ranks)
            let hashes = Dictionary(uniqueKeysWithValues: plan.stages.map { ($0.name, $0.hash) })
            XCTAssertEqual(hashes, recorded.hashes, "\(recorded.args.joined(separator: " ")) on \(recorded.ranks) rank(s)")
            compared += hashes.count
        }
        XCTAssertGreaterThan(compared, 200)
    }
}
