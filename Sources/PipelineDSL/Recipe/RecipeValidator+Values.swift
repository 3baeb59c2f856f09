import Foundation

extension RecipeValidator {
    /// Converts a node to a value of `type`, reporting (and returning nil for) a mismatch.
    mutating func convert(_ node: SourceNode, as type: ParameterType, range: NumericRange?, keyPath: String) -> ParamValue? {
        switch type {
        case .int:
            guard case .scalar(let text, true, _) = node, !node.isNull else { return mismatch(node, type, keyPath) }
            guard let value = Self.parseInt(text) else {
                if Self.parseFloat(text) != nil || Self.looksNumeric(text) {
                    let reason = Self.looksNumeric(text) && !text.contains(".") && !text.lowercased().contains("e")
                        ? "a whole number outside the 64-bit range" : "a number with a fraction"
                    report(node.location, keyPath, "expected an integer, found \(node.found) (\(reason))")
                    return nil
                }
                return mismatch(node, type, keyPath)
            }
            return checkRange(.int(value), Double(value), range, node, keyPath)
        case .float:
            guard case .scalar(let text, true, _) = node, !node.isNull else { return mismatch(node, type, keyPath) }
            if let value = Self.parseInt(text) { return checkRange(.float(Double(value)), Double(value), range, node, keyPath) }
            guard let value = Self.parseFloat(text) else {
                if Self.looksNumeric(text) || [".inf", "-.inf", ".nan", ".Inf", ".NaN"].contains(text) {
                    report(node.location, keyPath, "expected a finite number, found \(node.found) (out of range or not finite)")
                    return nil
                }
                return mismatch(node, type, keyPath)
            }
            return checkRange(.float(value), value, range, node, keyPath)
        case .bool:
            guard case .scalar(let text, true, _) = node else { return mismatch(node, type, keyPath) }
            switch text {
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            default: return mismatch(node, type, keyPath)
            }
        case .string:
            guard case .scalar(let text, _, _) = node, !node.isNull else { return mismatch(node, type, keyPath) }
            return .string(text)
        case .choice(let options):
            guard case .scalar(let text, _, _) = node, !node.isNull else { return mismatch(node, type, keyPath) }
            guard options.contains(text) else {
                report(node.location, keyPath, "expected one of \(options.joined(separator: ", ")), found \(node.found)",
                       suggestion: Suggestion.closest(to: text, among: options))
                return nil
            }
            return .string(text)
        case .list(let element, let minCount, let maxCount):
            guard case .sequence(let items, _) = node else { return mismatch(node, type, keyPath) }
            if items.count < minCount || items.count > (maxCount ?? Int.max) {
                let bound = maxCount.map { $0 == minCount ? "exactly \($0)" : "\(minCount) to \($0)" } ?? "at least \(minCount)"
                report(node.location, keyPath, "expected a list of \(bound) elements, found \(items.count)")
                return nil
            }
            var values: [ParamValue] = []
            var failed = false
            for (index, item) in items.enumerated() {
                if let value = convert(item, as: element, range: range, keyPath: "\(keyPath)[\(index)]") {
                    values.append(value)
                } else {
                    failed = true
                }
            }
            return failed ? nil : .list(values)
        case .group(let members):
            if node.isNull { return .map(group([], schema: members, at: node.location, keyPath: keyPath)) }
            guard let entries = node.entries else { return mismatch(node, type, keyPath) }
            return .map(group(entries, schema: members, at: node.location, keyPath: keyPath))
        }
    }

    private mutating func mismatch(_ node: SourceNode, _ type: ParameterType, _ keyPath: String) -> ParamValue? {
        var message = "expected \(type.expectation), found \(node.found)"
        if case .scalar(_, false, _) = node, [ParameterType.int, .float, .bool].contains(where: { $0.expectation == type.expectation }) {
            message += "; remove the quotes"
        }
        report(node.location, keyPath, message)
        return nil
    }

    private mutating func checkRange(_ value: ParamValue, _ number: Double, _ range: NumericRange?, _ node: SourceNode,
                                     _ keyPath: String) -> ParamValue? {
        guard let range, !range.contains(number) else { return value }
        report(node.location, keyPath, "expected a value \(range.description), found \(node.found)")
        return nil
    }

    /// Decimal integers, with an optional sign and `_` separators (YAML 1.1 style).
    static func parseInt(_ text: String) -> Int? {
        let cleaned = text.replacingOccurrences(of: "_", with: "")
        guard !cleaned.isEmpty, cleaned.count <= 40, cleaned.unicodeScalars.allSatisfy({ "+-0123456789".unicodeScalars.contains($0) }) else {
            return nil
        }
        return Int(cleaned)
    }

    /// Finite decimal or exponent numbers; `.inf`/`.nan` and overflowing exponents are rejected.
    static func parseFloat(_ text: String) -> Double? {
        let cleaned = text.replacingOccurrences(of: "_", with: "")
        guard looksNumeric(cleaned), cleaned.count <= 400, let value = Double(cleaned), value.isFinite else { return nil }
        return value
    }

    static func looksNumeric(_ text: String) -> Bool {
        let scalars = text.unicodeScalars
        return !scalars.isEmpty && scalars.contains(where: { ("0"..."9").contains($0) })
            && scalars.allSatisfy { "+-0123456789.eE_".unicodeScalars.contains($0) }
    }
}
