import Foundation
import PipelineDSL

/// One HTML page comparing runs: the table, grouped many / medium / few bars, overlaid training
/// curves, and a warning for runs whose recipes differ outside the comparison.
package enum ComparisonPage {
    /// Writes the page comparing `runs` (the first is the baseline) to `url`; `groupBy` (or runs
    /// that repeat a setting over seeds) adds the section over seeds.
    package static func write(_ runs: [RunRecord], to url: URL, title: String? = nil, groupBy: [String]? = nil) throws {
        let groups = groupBy != nil || SeedGroups.hasRepeatedSeeds(runs) ? (try? SeedGroups(runs, keys: groupBy)) : nil
        do { try Data(html(RunComparison(runs), title: title, groups: groups).utf8).write(to: url, options: .atomic) } catch {
            throw RunError("cannot write \(url.path): \(error.localizedDescription)")
        }
    }

    /// The page.
    package static func html(_ comparison: RunComparison, title: String? = nil, groups: SeedGroups? = nil) -> String {
        let runs = comparison.rows.map(\.run)
        let heading = title ?? "Comparison of \(runs.count) runs"
        let color = { (index: Int) in SVGCanvas.palette[index % SVGCanvas.palette.count] }
        var body = "<h1>\(HTML.escape(heading))</h1>\n<div class=\"sub\">keys compared: "
            + (comparison.keys.isEmpty ? "none (no run had overrides)" : "<code>\(HTML.escape(comparison.keys.joined(separator: ", ")))</code>")
            + "</div>\n"
        if comparison.hasFlags {
            body += "<div class=\"warn\"><b>Not like for like:</b> these runs' recipes differ in keys outside the comparison.<ul>"
                + comparison.warnings.map { "<li>\(HTML.escape($0))</li>" }.joined() + "</ul></div>\n"
        }
        let incomplete = runs.filter { $0.metric("top1") == nil }
        if !incomplete.isEmpty {
            body += "<div class=\"warn\"><b>Without test metrics:</b> " + HTML.escape(incomplete.map(\.name).joined(separator: ", ")) + "</div>\n"
        }
        if let groups { body += seedSection(groups) }
        let links = comparison.rows.map { row -> String in
            "<a href=\"\(HTML.escape(row.run.directory.appendingPathComponent(RunRecord.reportFile).path))\">report</a>"
        }
        let cells = zip(comparison.cells, links).map { row, link in row.map(HTML.escape) + [link] }
        body += "<h2>Runs</h2>\n" + HTML.table(header: RunComparison.columns + [""], rows: cells, raw: true,
                                                classes: comparison.rows.map { $0.flagged.isEmpty ? nil : "flag" }) + "\n"
        let labels = comparison.rows.enumerated().map { index, row in label(row, index: index, keys: comparison.keys) }
        body += "<h2>Test accuracy</h2>\n"
        body += HTML.figure(Chart.groupedBars(
            title: "Many / medium / few-shot and top-1 accuracy per run", yLabel: "test accuracy (%)",
            groups: ["many-shot", "medium-shot", "few-shot", "top-1"],
            series: runs.enumerated().map { index, run in
                Chart.BarSeries(name: labels[index], values: ["many", "medium", "few", "top1"].map(run.metric), color: color(index))
            }, yMax: 100, width: 1100, height: 340))
        body += "<h2>Training curves</h2>\n<div class=\"row\">"
        for (kind, title, value, axis) in [("encoder", "First-stage loss per epoch", "loss", "mean contrastive loss"),
                                           ("classifier", "Classifier loss per epoch", "loss", "mean loss"),
                                           ("classifier", "Classifier training accuracy per epoch", "train_accuracy", "training accuracy (%)")] {
            let series = runs.enumerated().compactMap { index, run -> Chart.Series? in
                guard let stage = run.stageNames(kind: kind).first else { return nil }
                let points = run.epochs(of: stage).compactMap { r in r.number(value).map { (Double(r.epoch), $0) } }
                return points.isEmpty ? nil : Chart.Series(name: labels[index], points: points, color: color(index))
            }
            if !series.isEmpty { body += HTML.figure(Chart.lines(title: title, xLabel: "epoch", yLabel: axis, series: series)) }
        }
        body += "</div>\n"
        return HTML.page(title: heading, body: body)
    }

    /// The comparison over seeds: each setting's mean ± sd with every seed as a dot, what is
    /// missing, the differences with Welch's t-test, and per-class accuracy.
    static func seedSection(_ groups: SeedGroups) -> String {
        let color = { (index: Int) in SVGCanvas.palette[index % SVGCanvas.palette.count] }
        let names = groups.groups.map { group in
            String((group.values.isEmpty ? group.label : group.values.map(\.value).joined(separator: ",")).prefix(28))
        }
        var body = "<h2>Over seeds</h2>\n<div class=\"sub\">\(HTML.escape(groups.heading))</div>\n"
        if !groups.gaps.isEmpty {
            body += "<div class=\"warn\"><b>Missing or failed seeds</b> (not averaged):<ul>"
                + groups.gaps.map { "<li>\(HTML.escape($0))</li>" }.joined() + "</ul></div>\n"
        }
        body += HTML.table(header: groups.groupTable.header, rows: groups.groupTable.rows) + "\n"
        let headline = ["top1", "top5", "many", "medium", "few"]
        body += HTML.figure(Chart.errorBars(
            title: "Test accuracy per setting: mean ± sd, every seed a dot", yLabel: "test accuracy (%)",
            categories: ["top-1", "top-5", "many-shot", "medium-shot", "few-shot"],
            series: groups.groups.enumerated().map { index, group in
                Chart.SpreadSeries(name: names[index], summaries: headline.map { group.metrics[$0] }, color: color(index))
            }, yMax: 100, width: 1100, height: 360))
        if !groups.differences.isEmpty {
            body += "<h3>Differences (group − baseline, Welch's t-test, two-sided p)</h3>\n"
                + HTML.table(header: groups.differenceTable.header, rows: groups.differenceTable.rows,
                             classes: groups.differences.map { difference -> String? in
                                 guard let welch = difference.welch else { return "muted" }
                                 return welch.p < 0.05 ? nil : "muted"
                             }) + "\n"
        }
        if !groups.classNames.isEmpty {
            body += HTML.figure(Chart.errorBars(
                title: "Per-class test accuracy: mean ± sd over seeds", yLabel: "test accuracy (%)", categories: groups.classNames,
                series: groups.groups.enumerated().map { index, group in
                    Chart.SpreadSeries(name: names[index], summaries: group.perClass, color: color(index))
                }, yMax: 100, width: 1100, height: 360))
            body += "<details><summary>Per-class table</summary>"
                + HTML.table(header: groups.perClassTable.header, rows: groups.perClassTable.rows) + "</details>\n"
        }
        return body
    }

    /// A short legend label: the run's values of the compared `keys` when it has them all (a sweep's
    /// points: `0,rank`, `0,supcon`, `1,rank`, … alike), else the values that differ from the first
    /// run, else its own overrides or its folder name.
    static func label(_ row: RunComparison.Row, index: Int, keys: [String]) -> String {
        let own = keys.filter { !$0.hasSuffix(".name") }.map { row.run.parameters[$0].map(RunComparison.text) }
        if !own.isEmpty, own.allSatisfy({ $0 != nil }) { return String(own.compactMap { $0 }.joined(separator: ",").prefix(28)) }
        let values = row.differences.filter { !$0.key.hasSuffix(".name") }.map(\.value)
        if index > 0, !values.isEmpty { return String(values.joined(separator: ",").prefix(28)) }
        let overrides = row.run.overrides.compactMap { $0.split(separator: "=", maxSplits: 1).last.map(String.init) }
        return String((overrides.isEmpty ? row.run.name : overrides.joined(separator: ",")).prefix(28))
    }
}
