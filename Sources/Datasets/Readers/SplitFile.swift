/// ImageNet-LT's split files: one `relative/path label` per line, as the authors' loaders read
/// them — parsed from bytes, so that Windows line endings (CRLF), a UTF-8 byte-order mark and
/// file names that are not UTF-8 (kept as `POSIXName`s) are all read.
public enum SplitFile {
    /// One listed image.
    public struct Line: Equatable, Sendable {
        /// The 1-based line number in the split file.
        public var number: Int
        /// The relative path as written (a `POSIXName` string: its bytes are kept).
        public var path: String
        /// The class label.
        public var label: Int32
    }

    /// Parses a split file's bytes: lines end with LF or CRLF, a leading UTF-8 BOM is skipped,
    /// blank lines are skipped, the label is the last space- or tab-separated field and the path
    /// everything before it (so a path may hold spaces).
    ///
    /// - Throws: `.badLabel` naming `path` and the line for a line without a label, a label that
    ///   is not an integer or lies outside `0..<classCount`, or a path holding a NUL byte.
    public static func parse(_ bytes: [UInt8], path: String, classCount: Int) throws -> [Line] {
        var start = 0
        if bytes.count >= 3, bytes[0] == 0xef, bytes[1] == 0xbb, bytes[2] == 0xbf { start = 3 }
        var lines: [Line] = []
        var number = 0
        while start <= bytes.count {
            number += 1
            var end = start
            while end < bytes.count, bytes[end] != 0x0a { end += 1 }
            var stop = end
            if stop > start, bytes[stop - 1] == 0x0d { stop -= 1 }
            if let line = try parseLine(bytes[start..<stop], number: number, path: path, classCount: classCount) { lines.append(line) }
            if end >= bytes.count { break }
            start = end + 1
        }
        return lines
    }

    private static func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0d || b == 0x0b || b == 0x0c }

    private static func parseLine(_ raw: ArraySlice<UInt8>, number: Int, path: String, classCount: Int) throws -> Line? {
        var lo = raw.startIndex, hi = raw.endIndex
        while lo < hi, isBlank(raw[lo]) { lo += 1 }
        while hi > lo, isBlank(raw[hi - 1]) { hi -= 1 }
        if lo == hi { return nil }
        let text = raw[lo..<hi]
        func bad(_ message: String) -> DatasetError { DatasetError(.badLabel, path: path, line: number, message) }
        guard let gap = text.lastIndex(where: isBlank) else {
            throw bad("expected `relative/path label`, found \"\(POSIXName.string(text))\"")
        }
        var pathEnd = gap
        while pathEnd > text.startIndex, isBlank(text[pathEnd - 1]) { pathEnd -= 1 }
        let labelText = POSIXName.string(text[(gap + 1)...])
        guard let label = Int32(labelText) else {
            throw bad("the label \"\(labelText)\" is not an integer")
        }
        guard label >= 0, Int(label) < classCount else {
            throw bad("label \(label) is outside 0..<\(classCount)")
        }
        let relative = text[text.startIndex..<pathEnd]
        guard !relative.contains(0) else { throw bad("the path holds a NUL byte") }
        return Line(number: number, path: POSIXName.string(relative), label: label)
    }
}
