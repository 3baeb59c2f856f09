import Foundation
import PipelineDSL
import XCTest

final class SweepTests: XCTestCase {
    func testSplitRespectsBracketsAndQuotes() {
        XCTAssertEqual(Sweep.splitTopLevel("0.1,0.2"), ["0.1", "0.2"])
        XCTAssertEqual(Sweep.splitTopLevel("[1,2],[3,4]"), ["[1,2]", "[3,4]"])
        XCTAssertEqual(Sweep.splitTopLevel("'a,b',c"), ["'a,b'", "c"])
        XCTAssertEqual(Sweep.splitTopLevel("{x: 1, y: 2}"), ["{x: 1, y: 2}"])
    }

    func testGridIsTheCartesianProductFirstAxisSlowest() throws {
        let sweep = try Sweep.parse(["stages.a.value=1,2", "seed=3", "stages.b.value=5,6,7"])
        XCTAssertEqual(sweep.fixed.map(\.argument), ["seed=3"])
        let points = sweep.points
        XCTAssertEqual(points.count, 6)
        XCTAssertEqual(points.map { $0.assignments.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }, [
            "stages.a.value=1 stages.b.value=5", "stages.a.value=1 stages.b.value=6", "stages.a.value=1 stages.b.value=7",
            "stages.a.value=2 stages.b.value=5", "stages.a.value=2 stages.b.value=6", "stages.a.value=2 stages.b.value=7",
        ])
        XCTAssertEqual(points[4].overrides.map(\.argument), ["seed=3", "stages.a.value=2", "stages.b.value=6"])
        XCTAssertThrowsError(try Sweep.parse(["a=1,"]))
        XCTAssertThrowsError(try Sweep.parse(["~a=1,2"]))
    }

    func testSharedStagesHaveOneHashAcrossPoints() throws {
        let points = try Sweep.parse(["stages.a.value=1,2"]).points
        let plans = try points.map { try plan(sampleRecipe, overrides: $0.overrides.map(\.argument)) }
        XCTAssertEqual(plans[0].stage(named: "b")!.hash, plans[1].stage(named: "b")!.hash)
        XCTAssertNotEqual(plans[0].stage(named: "total")!.hash, plans[1].stage(named: "total")!.hash)
    }

    func testComparisonTable() {
        let rows = [
            SweepReport.Row(assignments: [("stages.loss.temperature", "0.1")], runDirectory: "runs/x/0", metrics: ["top1": .float(0.5), "few": .float(0.25), "loss": .float(1)]),
            SweepReport.Row(assignments: [("stages.loss.temperature", "0.2")], runDirectory: "runs/x/1", metrics: [:], error: "stage 'e' failed"),
        ]
        XCTAssertEqual(SweepReport.text(rows), """
            stages.loss.temperature  top1    few     loss    run
            -----------------------  ------  ------  ------  ------------------------
            0.1                      0.5000  0.2500  1.0000  runs/x/0
            0.2                      -       -       -       FAILED: stage 'e' failed

            """)
        XCTAssertEqual(SweepReport.json(rows).listValue?[1].mapValue?["error"], .string("stage 'e' failed"))
    }
}

final class SchemaExportTests: XCTestCase {
    func testSchemaDescribesKindsParametersAndRanges() throws {
        let text = SchemaExport.json(testRegistry())
        XCTAssertEqual(text, SchemaExport.json(testRegistry()), "deterministic")
        let schema = try XCTUnwrap(ParamValue.parseJSON(text)?.mapValue)
        XCTAssertEqual(schema["$schema"], .string("http://json-schema.org/draft-07/schema#"))
        let stage = schema["properties"]?.mapValue?["stages"]?.mapValue?["additionalProperties"]?.mapValue
        XCTAssertEqual(stage?["properties"]?.mapValue?["kind"]?.mapValue?["enum"],
                       .list(["test_config", "test_counter", "test_fail", "test_source", "test_sum"].map(ParamValue.string)))
        let branches = try XCTUnwrap(stage?["allOf"]?.listValue)
        let config = try XCTUnwrap(branches.first { $0.mapValue?["if"]?.canonicalJSON.contains("test_config") == true }?.mapValue?["then"]?.mapValue)
        XCTAssertEqual(config["additionalProperties"], .bool(false))
        let properties = try XCTUnwrap(config["properties"]?.mapValue)
        XCTAssertEqual(properties["scale"], .map(["type": .string("number"), "exclusiveMinimum": .int(0), "default": .float(1),
                                                  "description": .string("multiplies the sum")]))
        XCTAssertEqual(properties["mode"]?.mapValue?["enum"], .list([.string("plain"), .string("squared")]))
        XCTAssertEqual(properties["weights"]?.mapValue?["maxItems"], .int(4))
        XCTAssertEqual(properties["limits"]?.mapValue?["properties"]?.mapValue?["depth"]?.mapValue?["maximum"], .int(10))
    }
}
