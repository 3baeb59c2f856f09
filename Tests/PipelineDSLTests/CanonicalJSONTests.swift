import PipelineDSL
import XCTest

final class CanonicalJSONTests: XCTestCase {
    func testCanonicalForm() {
        let value = ParamValue.map([
            "b": .list([.int(1), .float(0.1), .float(1), .float(1e-5), .float(-0.0), .bool(true)]),
            "a": .string("q\"\\\n\t\u{1}é"),
            "B": .map([:]),
        ])
        XCTAssertEqual(value.canonicalJSON, #"{"B":{},"a":"q\"\\\n\t\u0001é","b":[1,0.1,1.0,1e-05,0.0,true]}"#)
    }

    func testNormalisedNumbersFromYAML() throws {
        let spellings = ["0.1", "1e-1", "0.10", "1.0e-1", "+0.1", "0.1_0"]
        let hashes = try spellings.map { spelling in
            try plan("name: n\nstages:\n  a: {kind: test_source, value: \(spelling)}\n").stages[0].hash
        }
        XCTAssertEqual(Set(hashes).count, 1, "\(zip(spellings, hashes).map { "\($0)=\($1.prefix(8))" })")
    }

    func testParseRoundTrip() {
        let value = ParamValue.map(["x": .list([.int(-3), .float(2.5), .string("a\u{263A}\n"), .bool(false)]), "y": .map(["z": .float(1e300)])])
        XCTAssertEqual(ParamValue.parseJSON(value.canonicalJSON), value)
        XCTAssertEqual(ParamValue.parseJSON(value.prettyJSON()), value)
        XCTAssertNil(ParamValue.parseJSON("{\"a\": }"))
        XCTAssertNil(ParamValue.parseJSON("[1, 2"))
        XCTAssertNil(ParamValue.parseJSON(String(repeating: "[", count: 10_000)))
    }
}

final class SuggestionTests: XCTestCase {
    func testClosest() {
        XCTAssertEqual(Suggestion.closest(to: "temprature", among: ["temperature", "gamma"]), "temperature")
        XCTAssertEqual(Suggestion.closest(to: "Warmup-Epochs", among: ["warmup_epochs", "epochs"]), "warmup_epochs")
        XCTAssertEqual(Suggestion.closest(to: "lr", among: ["learning_rate_decay", "momentum"]), nil)
        XCTAssertEqual(Suggestion.closest(to: "teh", among: ["the"]), "the")
        XCTAssertEqual(Suggestion.closest(to: "x", among: [String]()), nil)
        XCTAssertEqual(Suggestion.editDistance("kitten", "sitting"), 3)
    }
}
