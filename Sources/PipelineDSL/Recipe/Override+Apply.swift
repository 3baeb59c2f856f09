import Foundation

extension Override {
    /// Applies overrides in order to a recipe tree; every problem is collected into one `RecipeError`.
    public static func apply(_ overrides: [Override], to root: SourceNode, registry: StageRegistry) throws -> SourceNode {
        let (tree, diagnostics) = applyCollecting(overrides, to: root, registry: registry)
        if !diagnostics.isEmpty { throw RecipeError(diagnostics) }
        return tree
    }

    /// Applies every override that can be applied and returns the problems of the others, so a
    /// recipe's own errors can be reported alongside.
    static func applyCollecting(_ overrides: [Override], to root: SourceNode, registry: StageRegistry) -> (SourceNode, [Diagnostic]) {
        var tree = root
        var diagnostics: [Diagnostic] = []
        for override in overrides {
            do {
                let value = try override.valueNode()
                try override.apply(value, to: &tree, registry: registry)
            } catch let error as RecipeError {
                diagnostics += error.diagnostics
            } catch {
                diagnostics.append(Diagnostic(location: SourceLocation(file: "<command line: \(override.argument)>", line: 0, column: 0),
                                              keyPath: override.key, message: "\(error)"))
            }
        }
        return (tree, diagnostics)
    }

    private func fail(_ message: String, suggestion: String? = nil) -> RecipeError {
        RecipeError([Diagnostic(location: SourceLocation(file: "<command line: \(argument)>", line: 0, column: 0),
                                keyPath: key, message: message, suggestion: suggestion)])
    }

    func apply(_ value: SourceNode?, to tree: inout SourceNode, registry: StageRegistry) throws {
        try apply(value, at: 0, to: &tree, root: tree, registry: registry)
    }

    private func apply(_ value: SourceNode?, at depth: Int, to node: inout SourceNode, root: SourceNode, registry: StageRegistry) throws {
        guard case .mapping(var entries, let location) = node else {
            throw fail("cannot override inside \(path[..<depth].joined(separator: ".")): it is \(node.found), not a mapping")
        }
        let name = path[depth]
        let index = entries.firstIndex { $0.key == name }
        let isLast = depth == path.count - 1
        if !isLast {
            if let index {
                try apply(value, at: depth + 1, to: &entries[index].value, root: root, registry: registry)
            } else if operation != .remove && (operation != .set || schemaKnows(path, root: root, registry: registry)) {
                // Create the missing parent mapping (e.g. a parameter group left at its defaults).
                var child = SourceNode.mapping([], location)
                try apply(value, at: depth + 1, to: &child, root: root, registry: registry)
                entries.append(SourceEntry(key: name, keyLocation: value?.location ?? location, value: child))
            } else {
                throw fail("no key '\(name)' under '\(depth == 0 ? "the top level" : path[..<depth].joined(separator: "."))'",
                           suggestion: Suggestion.closest(to: name, among: entries.map(\.key)))
            }
            node = .mapping(entries, location)
            return
        }
        switch operation {
        case .remove:
            guard let index else {
                throw fail("cannot remove a key the recipe does not have",
                           suggestion: Suggestion.closest(to: name, among: entries.map(\.key)))
            }
            if let value, case .scalar(let wanted, _, _) = value, case .scalar(let current, _, _) = entries[index].value, wanted != current {
                throw fail("not removed: its value is '\(current)', not '\(wanted)'")
            }
            entries.remove(at: index)
        case .add:
            guard index == nil else { throw fail("cannot add a key the recipe already has; use \(key)=VALUE to change it or ++\(key)=VALUE") }
            entries.append(SourceEntry(key: name, keyLocation: value!.location, value: value!))
        case .upsert, .set:
            if let index {
                entries[index].value = value!
            } else if operation == .upsert || schemaKnows(path, root: root, registry: registry) {
                entries.append(SourceEntry(key: name, keyLocation: value!.location, value: value!))
            } else {
                let siblings = entries.map(\.key) + schemaNames(under: Array(path.dropLast()), root: root, registry: registry)
                throw fail("the recipe has no such key; to add one use +\(key)=VALUE",
                           suggestion: Suggestion.closest(to: name, among: Set(siblings).sorted()))
            }
        }
        node = .mapping(entries, location)
    }

    /// Whether `path` names a key the schema defines (a top-level key or a stage parameter).
    func schemaKnows(_ path: [String], root: SourceNode, registry: StageRegistry) -> Bool {
        schemaNames(under: Array(path.dropLast()), root: root, registry: registry).contains(path.last!)
    }

    /// The keys the schema allows directly under `parent`.
    func schemaNames(under parent: [String], root: SourceNode, registry: StageRegistry) -> [String] {
        if parent.isEmpty { return RecipeKeys.topLevel.map(\.0) }
        guard parent.count >= 2, parent[0] == "stages",
              let stage = root.entries?.first(where: { $0.key == "stages" })?.value.entries?.first(where: { $0.key == parent[1] }),
              case .scalar(let kindName, _, _)? = stage.value.entries?.first(where: { $0.key == "kind" })?.value,
              let kind = registry.kind(named: kindName) else { return [] }
        var parameters = kind.parameters
        for group in parent.dropFirst(2) {
            guard case .group(let members)? = parameters.first(where: { $0.name == group })?.type else { return [] }
            parameters = members
        }
        return (parent.count == 2 ? RecipeKeys.stageKeys : []) + parameters.map(\.name)
    }
}
