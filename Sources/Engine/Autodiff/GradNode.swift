/// A node of the reverse-mode graph: the op that made a tensor, the nodes of its inputs, and
/// the pullback that maps the output's gradient to the inputs' gradients.
///
/// Nodes are numbered in creation order, so sorting the nodes reachable from a loss by
/// descending number is a valid reverse topological order.
public final class GradNode {
    /// The op, or `nil` for a leaf (a parameter or an input that asked for gradients).
    public let op: PrimitiveOp?
    /// The input nodes, parallel to the pullback's results; `nil` where no gradient flows.
    let inputs: [GradNode?]
    /// Maps the gradient of the output to the gradients of the inputs. The flags say which
    /// inputs need one, so that costly unused gradients (a network's input) are skipped.
    let pullback: ((Tensor, [Bool]) -> [Tensor?])?
    /// Creation order.
    let order: Int

    nonisolated(unsafe) private static var counter = 0

    init(op: PrimitiveOp?, inputs: [GradNode?], pullback: ((Tensor, [Bool]) -> [Tensor?])?) {
        self.op = op
        self.inputs = inputs
        self.pullback = pullback
        Self.counter += 1
        self.order = Self.counter
    }
}

/// Whether ops record the graph. Training runs with it on; inference, k-means embedding and
/// evaluation turn it off with `withoutGradients`. The flag belongs to the training thread.
public enum GradMode {
    nonisolated(unsafe) public internal(set) static var isEnabled = true

    /// Runs `body` with graph recording off.
    public static func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
        let saved = isEnabled
        isEnabled = false
        defer { isEnabled = saved }
        return try body()
    }
}

/// Runs `body` with graph recording off (no `GradNode`s are made).
public func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.withoutGradients(body)
}

extension Tensor {
    /// The same values as a leaf of the graph: gradients with respect to it can be asked for.
    public func trackingGradients() -> Tensor {
        Tensor(shape: shape, dtype: dtype, storage: storage, node: GradNode(op: nil, inputs: [], pullback: nil))
    }

    /// Attaches `op`'s node to a freshly computed result when any input is tracked.
    static func recorded(_ result: Tensor, op: PrimitiveOp, inputs: [Tensor],
                         pullback: @escaping (Tensor, [Bool]) -> [Tensor?]) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0.node != nil }) else { return result }
        var out = result
        out.node = GradNode(op: op, inputs: inputs.map(\.node), pullback: pullback)
        return out
    }
}
