import Foundation
import PipelineDSL
import XCTest

/// Hostile files end in one diagnostic within a second, never a crash.
final class HostileInputTests: XCTestCase {
    private func rejectQuickly(_ data: Data, containing fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        let start = Date()
        do {
            _ = try Planner.recipe(data: data, file: "hostile.yaml", overrides: [], registry: testRegistry())
            XCTFail("accepted a hostile file", file: file, line: line)
        } catch let error as RecipeError {
            XCTAssertTrue(error.description.contains(fragment), "got: \(error.description)", file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.0, "took too long", file: file, line: line)
    }

    func testDeepFlowNesting() {
        let text = "a: " + String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        rejectQuickly(Data(text.utf8), containing: "hostile.yaml:1:67: error: nesting is deeper than 64 levels")
    }

    func testDeepBlockSequenceOnOneLine() {
        rejectQuickly(Data((String(repeating: "- ", count: 100_000) + "x").utf8), containing: "nesting is deeper than 64 levels")
    }

    func testDeepIndentation() {
        var text = ""
        for level in 0..<100 { text += String(repeating: " ", count: level) + "k\(level):\n" }
        rejectQuickly(Data(text.utf8), containing: "nesting is deeper than 64 levels")
    }

    func testAliasBomb() {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for level in 1..<30 {
            lines.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]")
        }
        rejectQuickly(Data(lines.joined(separator: "\n").utf8), containing: "document expands to more than 100000 values")
    }

    func testBinaryBytes() {
        var bytes = Array("name: x\nstages:\n".utf8)
        bytes += [0xFF, 0xFE, 0x00, 0x81, 0xC3]
        rejectQuickly(Data(bytes), containing: "hostile.yaml:3:1: error: expected UTF-8 text, found invalid or binary bytes")
    }

    func testControlCharacters() {
        rejectQuickly(Data("name: x\u{0}\n".utf8), containing: "hostile.yaml:1:8: error: expected text, found control character U+0000")
    }

    func testHugeNumbers() {
        let text = """
            name: x
            seed: 123456789012345678901234567890
            stages:
              a: {kind: test_source, value: 1e99999999999999999999}
              c: {kind: test_counter, steps: -99999999999999999999999999}
            """
        rejectQuickly(Data(text.utf8), containing: "hostile.yaml:2:7: error: seed: expected an integer")
        let messages = diagnostics(text)
        XCTAssertEqual(messages.count, 3, "\(messages)")
        XCTAssertTrue(messages[1].contains("stages.a.value: expected a finite number"), messages[1])
        XCTAssertTrue(messages[2].contains("stages.c.steps: expected an integer"), messages[2])
    }

    func testOversizedFile() {
        rejectQuickly(Data(repeating: UInt8(ascii: "#"), count: YAMLLoader.maximumBytes + 1), containing: "expected a recipe of at most")
    }

    func testEmptyAndScalarDocuments() {
        rejectQuickly(Data(), containing: "found an empty document")
        rejectQuickly(Data("just text".utf8), containing: "expected a mapping with name, seed and stages at the top level, found 'just text'")
    }

    func testNonScalarKeys() {
        rejectQuickly(Data("? [a, b]\n: 1\nname: x\n".utf8), containing: "expected a string key, found a list")
    }

    func testLongDependencyChainAndCycle() throws {
        var lines = ["name: chain", "stages:", "  s0: {kind: test_source}"]
        for index in 1..<20_000 { lines.append("  s\(index): {kind: test_sum, inputs: [s\(index - 1)]}") }
        let text = lines.joined(separator: "\n")
        let planned = try plan(text)
        XCTAssertEqual(planned.stages.count, 20_000)
        XCTAssertEqual(planned.stages.last?.name, "s19999")
        let looped = text.replacingOccurrences(of: "  s0: {kind: test_source}", with: "  s0: {kind: test_sum, inputs: [s19999]}")
        let messages = diagnostics(looped)
        XCTAssertEqual(messages.count, 1)
        XCTAssertEqual(messages.first, "recipe.yaml:3:3: error: stages.s0.inputs: stages form a cycle: s0 -> s19999 -> s19998 -> s19997 -> "
                       + "s19996 -> s19995 -> s19994 -> s19993 -> s19992 -> s19991 -> ... (20000 stages) -> s0")
    }

    func testRandomBytesNeverCrash() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let length = Int.random(in: 1...400, using: &generator)
            let alphabet = Array("ab: -[]{}&*!|>'\"#\n ,?%@`0123456789.".utf8)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            _ = try? Planner.recipe(data: Data(bytes), file: "fuzz.yaml", overrides: [], registry: testRegistry())
        }
    }
}
