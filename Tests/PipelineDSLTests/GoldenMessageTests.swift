import Foundation
import PipelineDSL
import XCTest

/// Every broken recipe in `Fixtures/broken` must give exactly the messages in its `.expected`
/// file. Set `SBCL_UPDATE_GOLDEN=1` to rewrite the expected files (then review the diff).
final class GoldenMessageTests: XCTestCase {
    func testBrokenRecipeCorpus() throws {
        let folder = fixtures().appendingPathComponent("broken")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 10)
        let update = ProcessInfo.processInfo.environment["SBCL_UPDATE_GOLDEN"] == "1"
        for name in names {
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            let registry = testRegistry()
            var actual = ""
            do {
                let recipe = try Planner.recipe(data: data, file: name, overrides: [], registry: registry)
                _ = try Planner.plan(recipe, registry: registry)
                XCTFail("\(name): expected errors, the recipe was accepted")
            } catch let error as RecipeError {
                actual = error.description + "\n"
            }
            let expectedURL = folder.appendingPathComponent(name.replacingOccurrences(of: ".yaml", with: ".expected"))
            if update {
                let target = sourceFixtures().appendingPathComponent("broken").appendingPathComponent(expectedURL.lastPathComponent)
                try Data(actual.utf8).write(to: target)
                continue
            }
            let expected = (try? String(contentsOf: expectedURL, encoding: .utf8)) ?? "<missing \(expectedURL.lastPathComponent)>"
            XCTAssertEqual(actual, expected, "\(name): messages differ from the golden file")
        }
    }
}
