import Foundation
import PipelineDSL
import XCTest

/// The test-only stage kinds.
func testRegistry() -> StageRegistry {
    var registry = StageRegistry()
    TestStageKinds.register(in: &registry)
    return registry
}

/// A fresh folder under the system temporary directory, removed by `remove()`.
struct TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-dsl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// The test target's `Fixtures` folder.
func fixtures() -> URL {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
}

/// The `Fixtures` folder in the source tree (for regenerating golden files).
func sourceFixtures(file: String = #filePath) -> URL {
    URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("Fixtures")
}

/// Plans recipe text with the test kinds.
func plan(_ text: String, overrides: [String] = [], file: String = "recipe.yaml") throws -> Plan {
    let registry = testRegistry()
    let recipe = try Planner.recipe(text: text, file: file, overrides: overrides.map(Override.parse), registry: registry)
    return try Planner.plan(recipe, registry: registry)
}

/// The diagnostics a recipe produces (fails the test when it is valid).
func diagnostics(_ text: String, overrides: [String] = [], file: String = "recipe.yaml",
                 sourceFile: StaticString = #filePath, line: UInt = #line) -> [String] {
    do {
        _ = try plan(text, overrides: overrides, file: file)
        XCTFail("expected the recipe to be rejected", file: sourceFile, line: line)
        return []
    } catch let error as RecipeError {
        return error.diagnostics.map(\.description)
    } catch {
        XCTFail("unexpected error \(error)", file: sourceFile, line: line)
        return []
    }
}

/// A small valid recipe over the test kinds.
let sampleRecipe = """
    name: sample
    seed: 7
    stages:
      a:
        kind: test_source
        value: 2
      b:
        kind: test_source
        value: 5
      cfg:
        kind: test_config
        scale: 2
      total:
        kind: test_sum
        inputs: [a, b, cfg]
      other:
        kind: test_sum
        inputs: [b]
    """
