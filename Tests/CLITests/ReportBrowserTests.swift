import Foundation
import XCTest
import Reporting

/// The reports as a user sees them: real runs of the smoke recipe (a run, a two-point sweep over
/// the loss variant sharing its cache, and a run stopped halfway), each report opened in
/// headless Chromium (Debian `chromium`, installed by scripts/setup.sh test): no console or load
/// errors, every SVG has a non-empty box, the key numbers are in the page's text, and a
/// screenshot is saved as `report.png` beside the report. The folders are kept afterwards in
/// $TMPDIR/sbcl-report-browser-test so the screenshots can be looked at.
final class ReportBrowserTests: XCTestCase {
    func testReportsRenderInChromium() throws {
        guard let browser = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: FileManager.default.isExecutableFile) else {
            throw XCTSkip("chromium is not installed (scripts/setup.sh test installs Debian's chromium)")
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-report-browser-test")
        try? FileManager.default.removeItem(at: root)
        let cli = try CLIHarness(folder: root)
        let recipe = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("recipes/smoke.yaml").path

        let run = try cli.run([recipe, "--threads", "2", "-q"], testStages: false)
        XCTAssertEqual(run.status, 0, run.stderr)
        let runFolder = URL(fileURLWithPath: String(try XCTUnwrap(run.stdout.split(separator: "\n").first { $0.hasPrefix("run folder: ") })
            .dropFirst("run folder: ".count)))
        try checkRunFiles(runFolder, cached: false)

        let sweep = try cli.run([recipe, "-m", "stages.loss.variant=rank,supcon", "--threads", "2", "-q"], testStages: false)
        XCTAssertEqual(sweep.status, 0, sweep.stderr)
        let sweepFolder = root.appendingPathComponent("runs/" + (try XCTUnwrap(try FileManager.default.contentsOfDirectory(
            atPath: root.appendingPathComponent("runs").path).first { $0.contains("-multirun-") })))
        let points = try FileManager.default.contentsOfDirectory(atPath: sweepFolder.path).filter { $0.first!.isNumber }.sorted()
        XCTAssertEqual(points.count, 2)
        // The rank point is the smoke run again: every stage comes from the cache, epochs replayed.
        try checkRunFiles(sweepFolder.appendingPathComponent(points[0]), cached: true)

        let (stopped, _, stoppedError) = try cli.start([recipe, "stages.encoder.epochs=5", "--threads", "2", "-q"],
                                                      environment: ["SBCL_ENCODER_STOP_AFTER_EPOCH": "1"])
        stopped.waitUntilExit()
        XCTAssertEqual(stopped.terminationStatus, 1, (try? String(contentsOf: stoppedError, encoding: .utf8)) ?? "")
        let failedFolder = root.appendingPathComponent("runs/" + (try XCTUnwrap(try FileManager.default.contentsOfDirectory(
            atPath: root.appendingPathComponent("runs").path).first { $0.hasPrefix("smoke-") && !$0.contains("-multirun-") && $0 != runFolder.lastPathComponent })))

        let metrics = RunRecord(directory: runFolder)
        let runPage = try open(runFolder.appendingPathComponent("report.html"), browser: browser, root: root)
        XCTAssertEqual(runPage.svgs, 10)
        for name in RunRecord.headlineMetrics {
            XCTAssertTrue(runPage.text.contains(String(format: "%.2f", try XCTUnwrap(metrics.metric(name)))), name)
        }
        for text in ["T-shirt/top", "Ankle boot", "Confusion matrix", "re-clustering", "Resolved recipe"] {
            XCTAssertTrue(runPage.text.contains(text), text)
        }
        let sweepPage = try open(sweepFolder.appendingPathComponent("report.html"), browser: browser, root: root)
        XCTAssertGreaterThanOrEqual(sweepPage.svgs, 3)
        for point in points {
            let top1 = try XCTUnwrap(RunRecord(directory: sweepFolder.appendingPathComponent(point)).metric("top1"))
            XCTAssertTrue(sweepPage.text.contains(String(format: "%.2f", top1)), point)
        }
        XCTAssertTrue(sweepPage.text.contains("stages.loss.variant=supcon"))
        let failedPage = try open(failedFolder.appendingPathComponent("report.html"), browser: browser, root: root)
        XCTAssertTrue(failedPage.text.contains("Incomplete run"))
        XCTAssertTrue(failedPage.text.contains("no test metrics"))
        XCTAssertTrue(failedPage.text.contains("Contrastive loss per epoch"))
        print("screenshots: \(runFolder.path)/report.png \(sweepFolder.path)/report.png \(failedFolder.path)/report.png")
    }

    /// metrics.jsonl has every epoch (4 first-stage, 3 re-clusterings, 100 classifier), the
    /// TensorBoard file reads back, run.json says what came from the cache.
    func checkRunFiles(_ folder: URL, cached: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let run = RunRecord(directory: folder)
        XCTAssertEqual(run.epochs(of: "encoder").map(\.epoch), [1, 2, 3, 4], file: file, line: line)
        XCTAssertEqual(run.reclusterings(of: "encoder").map(\.epoch), [2, 3, 4], file: file, line: line)
        XCTAssertEqual(run.epochs(of: "classifier").count, 100, file: file, line: line)
        XCTAssertEqual(run.stages.map(\.outcome).allSatisfy { $0 == "cached" }, cached, "\(run.stages.map(\.outcome))", file: file, line: line)
        let events = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.hasPrefix("events.out.tfevents.") })
        let decoded = try TensorBoardWriter.read(folder.appendingPathComponent(events))
        XCTAssertEqual(decoded.first?.fileVersion, "brain.Event:2", file: file, line: line)
        XCTAssertEqual(decoded.filter { $0.scalars["encoder/loss"] != nil }.count, 4, file: file, line: line)
        XCTAssertEqual(decoded.filter { $0.scalars["classifier/train_accuracy"] != nil }.count, 100, file: file, line: line)
        XCTAssertNotNil(decoded.last?.scalars["evaluation/top1"], file: file, line: line)
    }

    struct Page { var svgs: Int; var text: String }

    /// Opens a copy of `report` with a probe script (errors, SVG boxes, text), checks it, and
    /// screenshots the original beside it as report.png.
    func open(_ report: URL, browser: String, root: URL, file: StaticString = #filePath, line: UInt = #line) throws -> Page {
        let html = try String(contentsOf: report, encoding: .utf8)
        XCTAssertFalse(html.contains("<script"), "reports have no scripts", file: file, line: line)
        let probe = """
            <script>
            window.__errors = [];
            addEventListener('error', e => __errors.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || e.type)), true);
            addEventListener('unhandledrejection', e => __errors.push('rejection: ' + e.reason));
            for (const level of ['error', 'warn']) { const original = console[level]; console[level] = (...a) => { __errors.push(level + ': ' + a.join(' ')); original(...a); }; }
            addEventListener('load', () => {
              const boxes = [...document.querySelectorAll('svg')].map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; });
              const height = document.documentElement.scrollHeight;
              const out = document.createElement('pre'); out.id = 'probe';
              out.textContent = ['PROBE', 'START'].join('-') + JSON.stringify({boxes, errors: __errors, height, text: document.body.innerText}) + ['PROBE', 'END'].join('-');
              document.body.appendChild(out);
            });
            </script>
            """
        let probed = report.deletingLastPathComponent().appendingPathComponent("report.probe.html")
        try Data(html.replacingOccurrences(of: "<head>", with: "<head>\n" + probe).utf8).write(to: probed)
        defer { try? FileManager.default.removeItem(at: probed) }
        let dump = try chromium(browser, ["--dump-dom", "--window-size=1280,900", "--virtual-time-budget=3000", probed.absoluteString])
        let consoleErrors = dump.stderr.split(separator: "\n").filter { $0.contains("CONSOLE") && $0.contains("ERROR") }
        XCTAssertEqual(consoleErrors, [], file: file, line: line)
        guard let start = dump.stdout.range(of: "PROBE-START"), let end = dump.stdout.range(of: "PROBE-END", range: start.upperBound..<dump.stdout.endIndex) else {
            XCTFail("the probe did not run: \(dump.stderr.suffix(2000))", file: file, line: line)
            return Page(svgs: 0, text: "")
        }
        let json = String(dump.stdout[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
        let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], file: file, line: line)
        XCTAssertEqual(result["errors"] as? [String], [], file: file, line: line)
        let boxes = try XCTUnwrap(result["boxes"] as? [[Double]], file: file, line: line)
        XCTAssertEqual(boxes.count, html.components(separatedBy: "<svg").count - 1, file: file, line: line)
        for box in boxes { XCTAssertTrue(box[0] > 0 && box[1] > 0, "an SVG with an empty box: \(box)", file: file, line: line) }
        let height = min(max(Int(result["height"] as? Double ?? 2000) + 20, 600), 16_000)
        let screenshot = report.deletingLastPathComponent().appendingPathComponent("report.png")
        _ = try chromium(browser, ["--screenshot=\(screenshot.path)", "--window-size=1280,\(height)", report.absoluteString])
        let png = try Data(contentsOf: screenshot)
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "a PNG", file: file, line: line)
        XCTAssertGreaterThan(png.count, 20_000, file: file, line: line)
        return Page(svgs: boxes.count, text: result["text"] as? String ?? "")
    }

    func chromium(_ browser: String, _ arguments: [String]) throws -> (stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: browser)
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("sbcl-chromium-profile")
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                             "--user-data-dir=\(home.path)", "--enable-logging=stderr", "--v=0"] + arguments
        let out = home.appendingPathComponent("stdout.txt"), err = home.appendingPathComponent("stderr.txt")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        for file in [out, err] { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        let stdout = try Data(contentsOf: out), stderr = try Data(contentsOf: err)
        return (String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}
