/// A trainable tensor. The optimiser replaces its value in place between steps; each forward
/// pass reads `value`, a leaf of the graph, so that `gradients()[parameter.value]` is its gradient.
public final class Parameter {
    /// The current value, a tracked leaf.
    public private(set) var value: Tensor

    public init(_ initial: Tensor) { value = initial.trackingGradients() }

    /// Replaces the value (loading a checkpoint); the shape must not change.
    public func assign(_ newValue: Tensor) {
        precondition(newValue.shape == value.shape, "Parameter.assign: shape \(newValue.shape) differs from \(value.shape)")
        value = newValue.copied().trackingGradients()
    }

    /// The shape of the value.
    public var shape: [Int] { value.shape }
}

/// One named entry of a module's state: what a PyTorch `state_dict` holds.
public enum StateItem {
    /// A trainable parameter (`conv1.weight`, `bn1.bias`, ...).
    case parameter(Parameter)
    /// A batch-norm layer's running mean (`running_mean`).
    case runningMean(BatchNormStatistics)
    /// A batch-norm layer's running variance (`running_var`).
    case runningVariance(BatchNormStatistics)
    /// A batch-norm layer's `num_batches_tracked` (int64 in PyTorch).
    case batchesTracked(BatchNormStatistics)
}

/// A network part with named state. Names follow the reference PyTorch modules exactly, so a
/// state dict maps one to one onto a PyTorch checkpoint.
public protocol Module: AnyObject {
    /// The module's state entries, names prefixed with `prefix` (e.g. `encoder.layer1.0.`).
    func namedState(prefix: String) -> [(name: String, item: StateItem)]
}

extension Module {
    /// Every state entry, in registration order (PyTorch's order).
    public var state: [(name: String, item: StateItem)] { namedState(prefix: "") }

    /// The trainable parameters with their names, in PyTorch's `named_parameters()` order.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        state.compactMap { entry in
            if case .parameter(let p) = entry.item { return (entry.name, p) }
            return nil
        }
    }

    /// The number of trainable scalars.
    public var parameterCount: Int { namedParameters.reduce(0) { $0 + $1.parameter.value.count } }
}

extension Module {
    /// Moves every parameter and running statistic to `backend` (one transfer per tensor when
    /// one side is a device); `batchesTracked` stays a host counter.
    public func move(to backend: any Backend) {
        for entry in state {
            switch entry.item {
            case .parameter(let parameter): parameter.assign(parameter.value.moved(to: backend))
            case .runningMean(let statistics): statistics.runningMean = statistics.runningMean.moved(to: backend)
            case .runningVariance(let statistics): statistics.runningVariance = statistics.runningVariance.moved(to: backend)
            case .batchesTracked: break
            }
        }
    }
}
