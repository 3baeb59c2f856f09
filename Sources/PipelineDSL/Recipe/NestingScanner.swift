/// A conservative estimate of YAML nesting depth from the raw text, before any parser runs.
///
/// Yams composes recursively, so a file of ten thousand `[` would exhaust the stack. The scan
/// counts flow brackets outside quotes and comments, block indentation levels (a stack of
/// indents, as Python's tokenizer keeps), and the `- `/`? ` indicators that open a new level on
/// the same line. It may overestimate for odd files, never underestimate for ordinary ones, and
/// recipes are a handful of levels deep.
enum NestingScanner {
    /// The line and column where the estimated depth first exceeds `limit`, or nil.
    static func firstTooDeep(_ text: String, limit: Int) -> (Int, Int)? {
        var indents: [Int] = []
        var flowDepth = 0
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let scalars = Array(line.unicodeScalars)
            var column = 0
            while column < scalars.count, scalars[column] == " " { column += 1 }
            let isBlank = column == scalars.count || scalars[column] == "#"
            if flowDepth == 0 && !isBlank {
                while let last = indents.last, last > column { indents.removeLast() }
                if indents.last != column { indents.append(column) }
            }
            var depth = indents.count + flowDepth
            var index = column
            // Sequence and complex-key indicators nest on one line: `- - - x`.
            while index + 1 < scalars.count, scalars[index] == "-" || scalars[index] == "?", scalars[index + 1] == " " {
                depth += 1
                if depth > limit { return (lineNumber, index + 1) }
                index += 2
                while index < scalars.count, scalars[index] == " " { index += 1 }
            }
            if depth > limit { return (lineNumber, index + 1) }
            var quote: Unicode.Scalar?
            while index < scalars.count {
                let scalar = scalars[index]
                if let open = quote {
                    if scalar == open { quote = nil }
                    if scalar == "\\" && open == "\"" { index += 1 }
                } else {
                    switch scalar {
                    case "\"", "'":
                        // A quote opens a string only at the start of a token.
                        if index == 0 || " [{,:-".unicodeScalars.contains(scalars[index - 1]) { quote = scalar }
                    case "#" where index == 0 || scalars[index - 1] == " ":
                        index = scalars.count
                        continue
                    case "[", "{":
                        flowDepth += 1
                        if indents.count + flowDepth > limit { return (lineNumber, index + 1) }
                    case "]", "}":
                        flowDepth = max(0, flowDepth - 1)
                    default:
                        break
                    }
                }
                index += 1
            }
        }
        return nil
    }
}
