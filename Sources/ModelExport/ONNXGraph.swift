import Foundation
import SwiftProtobuf
import Engine

/// Builds an ONNX graph node by node: named float and int64 initializers, nodes with attributes,
/// fresh value names.
struct ONNXGraph {
    private(set) var graph = Onnx_GraphProto()
    private var counter = 0

    init(name: String) { graph.name = name }

    /// A fresh value name with a readable stem.
    mutating func fresh(_ stem: String) -> String {
        counter += 1
        return "\(stem)_\(counter)"
    }

    /// A float32 constant of `shape` called `name`.
    @discardableResult
    mutating func constant(_ name: String, _ values: [Float], shape: [Int]) -> String {
        precondition(values.count == shape.reduce(1, *), "ONNXGraph.constant \(name): \(values.count) values for \(shape)")
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.dims = shape.map(Int64.init)
        tensor.rawData = values.withUnsafeBytes { Data($0) }  // little-endian, as ONNX requires
        graph.initializer.append(tensor)
        return name
    }

    /// An int64 constant (Slice bounds, Pad amounts).
    mutating func integers(_ values: [Int64]) -> String {
        let name = fresh("const")
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        tensor.dims = [Int64(values.count)]
        tensor.int64Data = values
        graph.initializer.append(tensor)
        return name
    }

    /// An attribute of one or several integers, or a float.
    enum Attribute {
        case int(Int), ints([Int]), float(Float), string(String)
    }

    /// Appends `op(inputs) → output` and returns the output's name.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], attributes: [String: Attribute] = [:], output: String? = nil) -> String {
        var node = Onnx_NodeProto()
        node.opType = op
        node.input = inputs
        let out = output ?? fresh(op.lowercased())
        node.output = [out]
        node.name = out
        for (name, value) in attributes.sorted(by: { $0.key < $1.key }) {
            var attribute = Onnx_AttributeProto()
            attribute.name = name
            switch value {
            case let .int(i): attribute.type = .int; attribute.i = Int64(i)
            case let .ints(list): attribute.type = .ints; attribute.ints = list.map(Int64.init)
            case let .float(f): attribute.type = .float; attribute.f = f
            case let .string(s): attribute.type = .string; attribute.s = Data(s.utf8)
            }
            node.attribute.append(attribute)
        }
        graph.node.append(node)
        return out
    }

    /// Declares a float32 graph input or output; a nil dimension is the symbolic `batch`.
    mutating func declare(_ name: String, shape: [Int?], isInput: Bool) {
        var info = Onnx_ValueInfoProto()
        info.name = name
        var type = Onnx_TypeProto.Tensor()
        type.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        var tensorShape = Onnx_TensorShapeProto()
        tensorShape.dim = shape.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            if let d { dim.dimValue = Int64(d) } else { dim.dimParam = "batch" }
            return dim
        }
        type.shape = tensorShape
        info.type.tensorType = type
        if isInput { graph.input.append(info) } else { graph.output.append(info) }
    }

    // MARK: Layers

    /// A convolution without bias (the ResNets' convolutions), weights under `name`.
    mutating func conv(_ x: String, _ layer: Conv2d, name: String) -> String {
        let w = layer.weight.value
        constant(name + ".weight", w.scalars, shape: w.shape)
        let k = w.shape[2]
        return node("Conv", [x, name + ".weight"], attributes: [
            "kernel_shape": .ints([k, k]), "strides": .ints([layer.stride, layer.stride]),
            "pads": .ints([layer.padding, layer.padding, layer.padding, layer.padding]), "dilations": .ints([1, 1]), "group": .int(1),
        ])
    }

    /// Batch normalisation in eval mode (running statistics, ε = 1e-5), then ReLU when asked.
    mutating func batchNorm(_ x: String, _ layer: BatchNorm2d, name: String, relu: Bool) -> String {
        let c = layer.weight.shape[0]
        constant(name + ".weight", layer.weight.value.scalars, shape: [c])
        constant(name + ".bias", layer.bias.value.scalars, shape: [c])
        constant(name + ".running_mean", layer.statistics.runningMean.scalars, shape: [c])
        constant(name + ".running_var", layer.statistics.runningVariance.scalars, shape: [c])
        let y = node("BatchNormalization", [x, name + ".weight", name + ".bias", name + ".running_mean", name + ".running_var"],
                     attributes: ["epsilon": .float(1e-5)])
        return relu ? node("Relu", [y]) : y
    }
}
