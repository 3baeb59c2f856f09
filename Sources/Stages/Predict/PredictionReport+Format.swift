import Foundation

extension PredictionReport {
    /// Plain text: one line per image (`path  class (p%), ...`), then the per-class summary and,
    /// with labels, the accuracy.
    public func text() -> String {
        var out = ""
        for item in items {
            let classes = item.top.map { "\(classNames[$0.index]) (\(String(format: "%.1f", 100 * $0.probability))%)" }
            let truth = item.label.map { "  [label \(classNames[$0])\($0 == item.predicted ? "" : ", wrong")]" } ?? ""
            out += "\(item.path)  \(classes.joined(separator: ", "))\(truth)\n"
        }
        out += "\n\(items.count) images; model: \(source)\n"
        let labelled = accuracy != nil
        let width = max(5, classNames.map(\.count).max() ?? 5)
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        out += pad("class", width) + "  predicted" + (labelled ? "  labelled  correct  accuracy" : "") + "\n"
        for line in summary {
            out += pad(line.name, width) + "  " + pad(String(line.predicted), 9)
            if labelled {
                let rate = line.labelled > 0 ? String(format: "%.2f%%", 100 * Double(line.correct) / Double(line.labelled)) : "n/a"
                out += "  " + pad(String(line.labelled), 8) + "  " + pad(String(line.correct), 7) + "  " + rate
            }
            out += "\n"
        }
        if let accuracy {
            out += String(format: "top-1 %.2f%% (%d of %d labelled images)\n", accuracy.top1, accuracy.correct, accuracy.labelled)
        }
        return out
    }

    /// JSON: `{"model", "images", "predictions": [{"path", "label"?, "top": [{"class", "index",
    /// "probability"}]}], "summary": [{"class", "index", "predicted", "labelled", "correct"}],
    /// "top1"?}` (top1 in %, when labels were given); with `logits`, each prediction also holds
    /// every class's logit.
    public func json(logits: Bool = false) -> String {
        var root: [String: Any] = [
            "model": source, "images": items.count,
            "predictions": items.map { item -> [String: Any] in
                var entry: [String: Any] = ["path": item.path,
                                            "top": item.top.map { ["class": classNames[$0.index], "index": $0.index, "probability": $0.probability] }]
                if let label = item.label { entry["label"] = label }
                if logits { entry["logits"] = item.logits.map(Double.init) }
                return entry
            },
            "summary": summary.map { ["class": $0.name, "index": $0.index, "predicted": $0.predicted, "labelled": $0.labelled, "correct": $0.correct] },
        ]
        if let accuracy { root["top1"] = accuracy.top1 }
        let data = (try? JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// CSV: a header, then one row per image: path, label (empty when unknown), then class and
    /// probability for each of the top K.
    public func csv() -> String {
        func field(_ s: String) -> String {
            s.contains(",") || s.contains("\"") || s.contains("\n") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        let k = items.first?.top.count ?? 1
        var out = (["path", "label"] + (1...k).flatMap { ["class_\($0)", "probability_\($0)"] }).joined(separator: ",") + "\n"
        for item in items {
            var row = [field(item.path), item.label.map { field(classNames[$0]) } ?? ""]
            for entry in item.top { row += [field(classNames[entry.index]), String(format: "%.6f", entry.probability)] }
            out += row.joined(separator: ",") + "\n"
        }
        return out
    }
}
