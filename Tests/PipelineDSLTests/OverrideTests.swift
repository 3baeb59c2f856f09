import Foundation
import PipelineDSL
import XCTest

/// Hydra's override grammar, typed by the schema.
final class OverrideTests: XCTestCase {
    func testGrammar() throws {
        XCTAssertEqual(try Override.parse("stages.loss.temperature=0.2"),
                       Override(operation: .set, path: ["stages", "loss", "temperature"], valueText: "0.2", argument: "stages.loss.temperature=0.2"))
        XCTAssertEqual(try Override.parse("+a.b=[1, 2]").operation, .add)
        XCTAssertEqual(try Override.parse("++a.b={x: 1}").operation, .upsert)
        XCTAssertEqual(try Override.parse("~a.b").operation, .remove)
        XCTAssertEqual(try Override.parse("~a.b").valueText, nil)
        XCTAssertEqual(try Override.parse("a=x=y").valueText, "x=y")
        for bad in ["=1", "a..b=1", "a b=1", "a", "+a", ".a=1"] {
            XCTAssertThrowsError(try Override.parse(bad), bad) { XCTAssertTrue($0 is UsageError, bad) }
        }
    }

    private func parameters(_ overrides: [String], stage: String = "cfg") throws -> ResolvedParameters {
        try plan(sampleRecipe, overrides: overrides).stage(named: stage)!.spec.parameters
    }

    func testSetTypedBySchema() throws {
        let params = try parameters(["stages.cfg.scale=3", "stages.cfg.mode=squared", "stages.cfg.weights=[0.5, 2]",
                                     "stages.cfg.limits.depth=4", "stages.cfg.tags=[a, b]", "+stages.cfg.note=0.5"])
        XCTAssertEqual(params["scale"], .float(3))
        XCTAssertEqual(params["mode"], .string("squared"))
        XCTAssertEqual(params["weights"], .list([.float(0.5), .float(2)]))
        XCTAssertEqual(params.group("limits")["depth"], .int(4))
        XCTAssertEqual(params["tags"], .list([.string("a"), .string("b")]))
        XCTAssertEqual(params["note"], .string("0.5"), "a string parameter keeps numeric-looking text as a string")
    }

    func testAddRemoveUpsert() throws {
        XCTAssertEqual(try parameters(["~stages.cfg.scale"])["scale"], .float(1), "removing a written key restores its default")
        XCTAssertEqual(try parameters(["++stages.cfg.note=x"])["note"], .string("x"))
        XCTAssertEqual(try parameters(["++stages.cfg.scale=5"])["scale"], .float(5))
        XCTAssertEqual(try parameters(["~stages.cfg.scale=2"])["scale"], .float(1))
        let recipe = try plan(sampleRecipe, overrides: ["~stages.other", "+stages.extra={kind: test_source, value: 9}", "seed=3", "device=cpu"]).recipe
        XCTAssertNil(recipe.stage(named: "other"))
        XCTAssertEqual(recipe.stage(named: "extra")?.parameters["value"], .float(9))
        XCTAssertEqual(recipe.seed, 3)
        XCTAssertEqual(recipe.device, "cpu")
    }

    func testOverrideErrors() {
        let messages = diagnostics(sampleRecipe, overrides: [
            "stages.cfg.scael=2", "+stages.cfg.scale=2", "~stages.cfg.missing", "stages.nope.value=1",
            "stages.cfg.scale=-1", "stages.a.value=[1", "~stages.cfg.scale=3",
        ])
        XCTAssertEqual(messages, [
            "<command line: +stages.cfg.scale=2>: error: stages.cfg.scale: cannot add a key the recipe already has; use stages.cfg.scale=VALUE to change it or ++stages.cfg.scale=VALUE",
            "<command line: stages.a.value=[1>: error: stages.a.value: invalid YAML: while parsing a flow sequence at 1:1: did not find expected ',' or ']'",
            "<command line: stages.cfg.scael=2>: error: stages.cfg.scael: the recipe has no such key; to add one use +stages.cfg.scael=VALUE; did you mean 'scale'?",
            "<command line: stages.cfg.scale=-1>: error: stages.cfg.scale: expected a value > 0, found '-1'",
            "<command line: stages.nope.value=1>: error: stages.nope.value: no key 'nope' under 'stages'",
            "<command line: ~stages.cfg.missing>: error: stages.cfg.missing: cannot remove a key the recipe does not have",
            "<command line: ~stages.cfg.scale=3>: error: stages.cfg.scale: not removed: its value is '-1', not '3'",
        ].sorted())
    }

    func testOverrideAndRecipeErrorsTogether() {
        let broken = sampleRecipe.replacingOccurrences(of: "value: 5", with: "valu: 5")
        let messages = diagnostics(broken, overrides: ["stages.a.value=x"])
        XCTAssertEqual(messages.count, 2, "\(messages)")
        XCTAssertTrue(messages.contains("<command line: stages.a.value=x>: error: stages.a.value: expected a number, found 'x'"), "\(messages)")
        XCTAssertTrue(messages.contains("recipe.yaml:9:5: error: stages.b.valu: unknown key; expected one of kind, inputs, value; did you mean 'value'?"), "\(messages)")
    }
}
