/// The gradients of a scalar with respect to the leaves it depends on.
public struct Gradients {
    private var byNode: [ObjectIdentifier: Tensor]

    init(byNode: [ObjectIdentifier: Tensor]) { self.byNode = byNode }

    /// The gradient with respect to a tracked tensor, `nil` when the result does not depend on it.
    /// Setting one replaces it (data-parallel training sums each rank's part into it).
    public subscript(_ tensor: Tensor) -> Tensor? {
        get {
            guard let node = tensor.node else { return nil }
            return byNode[ObjectIdentifier(node)]
        }
        set {
            guard let node = tensor.node else { preconditionFailure("Gradients: setting the gradient of an untracked tensor") }
            byNode[ObjectIdentifier(node)] = newValue
        }
    }
}

extension Tensor {
    /// Reverse-mode differentiation: the gradients of this tensor with respect to every leaf it
    /// depends on. `seed` is the gradient of the output (ones for a scalar loss by default).
    public func gradients(seed: Tensor? = nil) -> Gradients {
        guard let root = node else { return Gradients(byNode: [:]) }
        let start = seed ?? Tensor(repeating: 1, shape: shape, on: backend)
        precondition(start.shape == shape, "gradients: seed shape \(start.shape) differs from output shape \(shape)")

        // Every node reachable from the root, in reverse creation order (a reverse topological order).
        var seen: Set<ObjectIdentifier> = [ObjectIdentifier(root)]
        var stack = [root], nodes: [GradNode] = []
        while let n = stack.popLast() {
            nodes.append(n)
            for case let i? in n.inputs where seen.insert(ObjectIdentifier(i)).inserted { stack.append(i) }
        }
        nodes.sort { $0.order > $1.order }

        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): start.detached]
        var leaves: [ObjectIdentifier: Tensor] = [:]
        withoutGradients {
            for n in nodes {
                let key = ObjectIdentifier(n)
                guard let g = grads.removeValue(forKey: key) else { continue }
                guard let pullback = n.pullback else { leaves[key] = g; continue }
                let needs = n.inputs.map { $0 != nil }
                let inputGrads = pullback(g, needs)
                for (input, ig) in zip(n.inputs, inputGrads) {
                    guard let input, let ig else { continue }
                    let k = ObjectIdentifier(input)
                    if let existing = grads[k] { grads[k] = existing + ig } else { grads[k] = ig }
                }
            }
        }
        return Gradients(byNode: leaves)
    }
}
