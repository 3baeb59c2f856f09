import Foundation
import PipelineDSL

/// A run's `report.html`: the headline numbers, the long-tail figure, the shot groups, the
/// confusion matrix, the training curves, stage times and the resolved recipe — whatever the run
/// folder holds, with what is missing said at the top.
package enum RunReportPage {
    /// Writes the report of `run` to `url`.
    package static func write(_ run: RunRecord, to url: URL) throws {
        do { try Data(html(run).utf8).write(to: url, options: .atomic) } catch {
            throw RunError("cannot write \(url.path): \(error.localizedDescription)")
        }
    }

    /// The page.
    package static func html(_ run: RunRecord) -> String {
        var body = "<h1>\(HTML.escape(run.recipeName)) — run report</h1>\n"
        body += "<div class=\"sub\">\(HTML.escape(run.directory.path)) · status <b>\(HTML.escape(run.status))</b>"
        if let started = run.info["started_at"]?.stringValue { body += " · started \(HTML.escape(started))" }
        body += String(format: " · %.1f s", run.seconds)
        if !run.overrides.isEmpty { body += " · overrides <code>\(HTML.escape(run.overrides.joined(separator: " ")))</code>" }
        body += "</div>\n"
        let missing = run.missingParts
        if !missing.isEmpty {
            body += "<div class=\"warn\"><b>Incomplete run — this report shows what exists.</b><ul>"
                + missing.map { "<li>\(HTML.escape($0))</li>" }.joined() + "</ul></div>\n"
        }
        body += cards(run)
        body += siblingsSection(run)
        body += testSection(run)
        for stage in run.stageNames(kind: "encoder") { body += encoderSection(run, stage: stage) }
        for stage in run.stageNames(kind: "classifier") { body += classifierSection(run, stage: stage) }
        body += stagesSection(run)
        body += "<h2>Resolved recipe</h2>\n<pre>\(HTML.escape(run.recipeText ?? "(recipe.yaml is missing)"))</pre>\n"
        return HTML.page(title: "\(run.recipeName) — \(run.name)", body: body)
    }

    static let cardNames = ["top1": "top-1 (%)", "top5": "top-5 (%)", "many": "many-shot (%)", "medium": "medium-shot (%)", "few": "few-shot (%)"]

    static func cards(_ run: RunRecord) -> String {
        "<div class=\"cards\">" + RunRecord.headlineMetrics.map { name in
            "<div class=\"card\" id=\"metric-\(name)\"><div class=\"v\">\(HTML.number(run.metric(name)))</div><div class=\"k\">\(cardNames[name]!)</div></div>"
        }.joined() + "</div>\n"
    }

    /// The runs of the same setting with other seeds in the same sweep folder (every recipe key
    /// equal but the seed), this one included.
    package static func siblings(of run: RunRecord) -> [RunRecord] {
        let parent = run.directory.deletingLastPathComponent()
        let manager = FileManager.default
        guard manager.fileExists(atPath: parent.appendingPathComponent("sweep.json").path) else { return [] }
        let mine = run.parameters.filter { $0.key != "seed" }
        guard !mine.isEmpty else { return [] }
        let others = ((try? manager.contentsOfDirectory(atPath: parent.path)) ?? []).sorted()
            .map { parent.appendingPathComponent($0) }
            .filter { $0.lastPathComponent != run.directory.lastPathComponent && manager.fileExists(atPath: $0.appendingPathComponent("run.json").path) }
            .map(RunRecord.init(directory:))
            .filter { $0.parameters.filter { $0.key != "seed" } == mine }
        return others.isEmpty ? [] : ([run] + others).sorted { ($0.parameters["seed"]?.intValue ?? 0) < ($1.parameters["seed"]?.intValue ?? 0) }
    }

    /// Where the run sits among its siblings (other seeds of its setting): each headline metric's
    /// value here, the siblings' mean ± sd, range and this run's rank; nothing without siblings.
    static func siblingsSection(_ run: RunRecord) -> String {
        let all = siblings(of: run)
        guard !all.isEmpty else { return "" }
        let seedOf = { (r: RunRecord) in r.parameters["seed"]?.intValue ?? 0 }
        let complete = all.filter { $0.metric("top1") != nil }
        let incomplete = all.filter { $0.metric("top1") == nil }.map { "seed \(seedOf($0)) (\($0.status))" }
        var out = "<h2>Among its seeds</h2>\n<div class=\"sub\">This run is seed \(seedOf(run)) of \(all.count) runs of the same setting in "
            + "this sweep (seeds \(HTML.escape(SeedGroups.seedList(all.map(seedOf))))); \(complete.count) with test metrics.</div>\n"
        if !incomplete.isEmpty {
            out += "<div class=\"warn\">Not counted: \(HTML.escape(incomplete.joined(separator: ", ")))</div>\n"
        }
        let rows = RunRecord.headlineMetrics.map { name -> [String] in
            let values = complete.compactMap { $0.metric(name) }
            let summary = SeedStatistics.Summary(values)
            let mine = run.metric(name)
            let rank = mine.map { value in "\(values.filter { $0 > value }.count + 1) of \(values.count)" } ?? "–"
            return [cardNames[name]!, HTML.number(mine), SeedGroups.meanSD(summary), SeedGroups.range(summary), rank]
        }
        return out + HTML.table(header: ["metric", "this run", "mean ± sd over its seeds", "min–max", "rank (1 = highest)"], rows: rows) + "\n"
    }

    static func testSection(_ run: RunRecord) -> String {
        var out = "<h2>Test set</h2>\n"
        let perClass = run.metrics["per_class"]?.listValue?.compactMap(\.doubleValue) ?? []
        let counts = run.metrics["class_counts"]?.listValue?.compactMap(\.intValue) ?? []
        guard !perClass.isEmpty, perClass.count == counts.count else {
            return out + "<p class=\"muted\">No test metrics: the evaluation did not run.</p>\n"
        }
        let names = run.classNames(count: counts.count)
        out += HTML.figure(Chart.longTail(accuracy: perClass, counts: counts, names: names),
                           caption: "Bars: accuracy of each class on the balanced test set; line: its training images (right axis, log scale).")
        let groups = ["many", "medium", "few", "top1", "top5"]
        out += "<div class=\"row\">"
        out += HTML.figure(Chart.groupedBars(title: "Shot groups and overall accuracy", yLabel: "test accuracy (%)",
                                             groups: ["many-shot", "medium-shot", "few-shot", "top-1", "top-5"],
                                             series: [Chart.BarSeries(name: run.name, values: groups.map(run.metric), color: "#4c78a8")],
                                             yMax: 100, width: 520),
                           caption: shotCaption(run))
        if let matrix = run.metrics["confusion"]?.listValue?.map({ $0.listValue?.compactMap(\.intValue) ?? [] }),
           matrix.count == counts.count, matrix.allSatisfy({ $0.count == counts.count }) {
            out += HTML.figure(Chart.confusion(matrix, counts: counts, names: names))
        }
        return out + "</div>\n"
    }

    /// The shot groups' definition, with the evaluation stage's bounds.
    static func shotCaption(_ run: RunRecord) -> String {
        let stage = run.stageNames(kind: "evaluation").first ?? "evaluation"
        let many = run.parameters["stages.\(stage).many_shot_above"]?.intValue ?? 100
        let few = run.parameters["stages.\(stage).few_shot_below"]?.intValue ?? 20
        return "Many / medium / few: mean per-class accuracy of the classes with more than \(many), \(few)–\(many) "
            + "and fewer than \(few) training images."
    }

    static func encoderSection(_ run: RunRecord, stage: String) -> String {
        var out = "<h2>First stage: encoder '\(HTML.escape(stage))'</h2>\n"
        let epochs = run.epochs(of: stage)
        guard !epochs.isEmpty else { return out + "<p class=\"muted\">No epochs recorded.</p>\n" }
        let reclusterings = run.reclusterings(of: stage)
        let marks = reclusterings.map { Double($0.epoch) }
        func series(_ name: String, _ color: String) -> [Chart.Series] {
            [Chart.Series(name: name, points: epochs.compactMap { r in r.number(name).map { (Double(r.epoch), $0) } }, color: color)]
        }
        out += "<div class=\"row\">"
        out += HTML.figure(Chart.lines(title: "Contrastive loss per epoch", xLabel: "epoch", yLabel: "mean loss",
                                       series: series("loss", "#4c78a8"), markers: marks, markerLabel: "re-clustering"))
        out += HTML.figure(Chart.lines(title: "Learning rate per epoch", xLabel: "epoch", yLabel: "learning rate (end of epoch)",
                                       series: series("lr", "#f58518"), markers: marks, markerLabel: "re-clustering"))
        out += HTML.figure(Chart.lines(title: "Training throughput", xLabel: "epoch", yLabel: "images per second",
                                       series: series("images_per_s", "#54a24b"), markers: marks, markerLabel: "re-clustering"))
        out += "</div>\n"
        let phases = epochs.compactMap { r in r.values["phase"]?.stringValue.map { "\(r.epoch): \($0)" } }
        if !phases.isEmpty { out += "<p class=\"sub\">Objective per epoch — \(HTML.escape(phases.joined(separator: ", ")))</p>\n" }
        guard !reclusterings.isEmpty else { return out + "<p class=\"muted\">No re-clustering in this stage.</p>\n" }
        let k = reclusterings.map { $0.values["subclasses"]?.listValue?.compactMap(\.intValue) ?? [] }
        let classes = k.map(\.count).max() ?? 0
        var counts = run.metrics["class_counts"]?.listValue?.compactMap(\.intValue) ?? []
        if counts.count != classes { counts = k.last ?? [] }
        let order = ClassOrder.byCount(counts)
        let names = run.classNames(count: classes)
        func perClass(_ key: String, _ value: (ParamValue) -> Double?) -> [Chart.Series] {
            reclusterings.enumerated().map { index, record in
                let values = record.values[key]?.listValue?.compactMap(value) ?? []
                return Chart.Series(name: "epoch \(record.epoch)",
                                    points: order.enumerated().compactMap { rank, c in c < values.count ? (Double(rank), values[c]) : nil },
                                    color: SVGCanvas.palette[index % SVGCanvas.palette.count])
            }
        }
        let axis = "class rank by training images (0 = most images)"
        out += "<div class=\"row\">"
        out += HTML.figure(Chart.lines(title: "Subclasses per class at each re-clustering", xLabel: axis, yLabel: "subclasses k_c",
                                       series: perClass("subclasses", \.doubleValue)))
        out += HTML.figure(Chart.lines(title: "Class temperatures at each re-clustering", xLabel: axis, yLabel: "temperature τ_c",
                                       series: perClass("temperatures", \.doubleValue)))
        out += "</div>\n"
        out += "<p class=\"sub\">Classes by rank: \(HTML.escape(order.prefix(40).enumerated().map { "\($0) \(names[$1])" }.joined(separator: ", ")))"
            + (order.count > 40 ? ", …" : "") + "</p>\n"
        let rows = reclusterings.map { r -> [String] in
            let t = r.values["temperatures"]?.listValue?.compactMap(\.doubleValue) ?? []
            return ["\(r.epoch)", "\(r.values["total_subclasses"]?.intValue ?? 0)",
                    HTML.number(t.min(), digits: 4), HTML.number(t.max(), digits: 4)]
        }
        return out + HTML.table(header: ["re-clustered at epoch", "subclasses", "τ_c min", "τ_c max"], rows: rows) + "\n"
    }

    static func classifierSection(_ run: RunRecord, stage: String) -> String {
        var out = "<h2>Second stage: classifier '\(HTML.escape(stage))'</h2>\n"
        let epochs = run.epochs(of: stage)
        guard !epochs.isEmpty else { return out + "<p class=\"muted\">No epochs recorded.</p>\n" }
        func series(_ name: String, _ color: String) -> [Chart.Series] {
            [Chart.Series(name: name, points: epochs.compactMap { r in r.number(name).map { (Double(r.epoch), $0) } }, color: color)]
        }
        out += "<div class=\"row\">"
        out += HTML.figure(Chart.lines(title: "Classifier loss per epoch", xLabel: "epoch", yLabel: "mean loss", series: series("loss", "#4c78a8")))
        out += HTML.figure(Chart.lines(title: "Classifier training accuracy per epoch", xLabel: "epoch", yLabel: "training accuracy (%)",
                                       series: series("train_accuracy", "#54a24b")))
        out += "</div>\n"
        return out + testCurve(epochs)
    }

    /// The test top-1 after every classifier epoch (`test_curve: true`), the best epoch marked and
    /// set beside the last one, which is the run's figure; nothing when the epochs hold no test top-1.
    static func testCurve(_ epochs: [EpochRecord]) -> String {
        let points = epochs.compactMap { r in r.number("test_top1").map { (epoch: r.epoch, top1: $0) } }
        guard let last = points.last else { return "" }
        var best = last
        for point in points where point.top1 > best.top1 || (point.top1 == best.top1 && point.epoch < best.epoch) { best = point }
        let bestLabel = "best: epoch \(best.epoch), \(HTML.number(best.top1)) %"
        var out = "<div class=\"row\">"
        out += HTML.figure(Chart.lines(title: "Classifier test top-1 per epoch", xLabel: "epoch", yLabel: "test top-1 (%)",
                                       series: [Chart.Series(name: "test top-1", points: points.map { (Double($0.epoch), $0.top1) }, color: "#e45756")],
                                       markers: [Double(best.epoch)], markerLabel: bestLabel),
                           caption: "The head scored on the test split after every epoch (test_curve: true); the dashed line marks the best epoch.")
        out += "</div>\n"
        return out + "<p class=\"sub\" id=\"test-curve-note\">Reported top-1: the last epoch's (epoch \(last.epoch), "
            + "\(HTML.number(last.top1)) %), as the evaluation stage scores it. The best epoch (epoch \(best.epoch), \(HTML.number(best.top1)) %) "
            + "is shown only for comparison with the reference's <code>Best Prec@1</code>, the best test top-1 over its epochs; "
            + "choosing an epoch by its test accuracy would select on the test set.</p>\n"
    }

    static func stagesSection(_ run: RunRecord) -> String {
        let stages = run.stages
        guard !stages.isEmpty else { return "<h2>Stages</h2>\n<p class=\"muted\">run.json is missing: no stage times.</p>\n" }
        let rows = stages.map { stage -> [String] in
            let outcome = stage.outcome == "cached" ? "from cache" : stage.outcome == "pending" ? "not run" : stage.outcome
            return [stage.name, stage.kind, outcome, HTML.number(stage.seconds),
                    HTML.number(stage.outcome == "cached" ? stage.computeSeconds : stage.seconds), String(stage.hash.prefix(12))]
        }
        return "<h2>Stages</h2>\n" + HTML.table(header: ["stage", "kind", "outcome", "seconds in this run", "seconds to compute", "hash"],
                                                 rows: rows) + "\n"
    }
}
