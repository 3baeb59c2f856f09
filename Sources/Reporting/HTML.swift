import Foundation

/// HTML text helpers and the page shell shared by the reports: one self-contained file, inline
/// CSS, no scripts, no external resources, printable.
enum HTML {
    /// `text` with `& < > " '` escaped.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// A whole page.
    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>\(css)</style>
        </head>
        <body>
        \(body)
        </body>
        </html>

        """
    }

    /// A table with a header row; cells are escaped unless `raw`.
    static func table(header: [String], rows: [[String]], raw: Bool = false, classes: [String?]? = nil) -> String {
        var out = "<table><thead><tr>" + header.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead><tbody>\n"
        for (index, row) in rows.enumerated() {
            let rowClass = classes?[index].map { " class=\"\($0)\"" } ?? ""
            out += "<tr\(rowClass)>" + row.map { "<td>\(raw ? $0 : escape($0))</td>" }.joined() + "</tr>\n"
        }
        return out + "</tbody></table>"
    }

    /// A figure with a caption.
    static func figure(_ svg: String, caption: String? = nil) -> String {
        "<figure>\(svg)\(caption.map { "<figcaption>\(escape($0))</figcaption>" } ?? "")</figure>"
    }

    /// A number with two decimals, or `–`.
    static func number(_ value: Double?, digits: Int = 2) -> String {
        value.map { String(format: "%.\(digits)f", $0) } ?? "–"
    }

    static let css = """
        body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1180px;padding:0 16px;color:#222;background:#fff}
        h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
        .sub{color:#666;font-size:13px}.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
        .card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:92px}.card .v{font-size:24px;font-weight:600}
        .card .k{font-size:12px;color:#666}.warn{background:#fff4e5;border:1px solid #f0b35a;border-radius:6px;padding:8px 14px;margin:12px 0}
        .warn ul{margin:4px 0 0;padding-left:20px}.row{display:flex;flex-wrap:wrap;gap:16px}
        figure{margin:8px 0}figure svg{max-width:100%;height:auto}figcaption{font-size:12px;color:#666}
        table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
        th{background:#f5f5f5}td.num{text-align:right}tr.flag td{background:#fff4e5}
        pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:10px;font-size:12px;overflow:auto;max-height:520px}
        .muted{color:#888}
        @media print{body{margin:0;max-width:none}pre{max-height:none}figure,table{break-inside:avoid}}
        """
}
