import Foundation
import SwiftProtobuf
import Engine
import Stages

/// A trained encoder and classifier as one ONNX model: float32 NCHW images, already normalised
/// with the encoder's per-channel mean and standard deviation (given in the model's metadata), in;
/// logits out; the batch dimension dynamic; opset 17. Batch norm runs on its running statistics,
/// as in evaluation.
///
/// The Swift types of `onnx.proto3` (`Generated/onnx.pb.swift`) are generated once and committed;
/// `scripts/generate_onnx_swift.sh` regenerates them (protoc and protoc-gen-swift 1.39.0).
public enum ONNXExport {
    /// The opset the graph uses.
    public static let opset = 17
    /// The IR version that opset 17 belongs to.
    public static let irVersion = 8

    /// The model proto of `model`.
    public static func modelProto(_ model: PredictionModel) -> Onnx_ModelProto {
        var g = ONNXGraph(name: "sbcl")
        let artifact = model.encoderArtifact
        let side = artifact.imageSize
        g.declare("input", shape: [nil, artifact.inputChannels, side, side], isInput: true)
        var features: String
        switch model.encoder {
        case let .cifar(network): features = cifarFeatures(&g, network.encoder, input: "input", prefix: "encoder.")
        case let .torchvision(network): features = torchvisionFeatures(&g, network, input: "input")
        }
        features = g.node("Flatten", [features], attributes: ["axis": .int(1)], output: "features")
        let head = model.head
        switch head.form {
        case .cosine:
            // logits = normalize(x) · normalize(W, columns): the columns are normalised here, once.
            let columns = withoutGradients { head.cosineWeight!.value.transposed().l2Normalized().transposed() }
            g.constant("classifier.normalized_weight", columns.scalars, shape: columns.shape)
            let norm = g.node("ReduceL2", [features], attributes: ["axes": .ints([1]), "keepdims": .int(1)])
            let floor = g.constant("classifier.epsilon", [1e-12], shape: [])
            let unit = g.node("Div", [features, g.node("Max", [norm, floor])])
            g.node("MatMul", [unit, "classifier.normalized_weight"], output: "logits")
        case .linear:
            let fc = head.fc!
            g.constant("classifier.fc.weight", fc.weight.value.scalars, shape: fc.weight.shape)
            g.constant("classifier.fc.bias", fc.bias.value.scalars, shape: fc.bias.shape)
            g.node("Gemm", [features, "classifier.fc.weight", "classifier.fc.bias"], attributes: ["transB": .int(1)], output: "logits")
        }
        g.declare("logits", shape: [nil, head.classCount], isInput: false)

        var proto = Onnx_ModelProto()
        proto.irVersion = Int64(irVersion)
        proto.producerName = "sbcl-run export"
        var opsetImport = Onnx_OperatorSetIdProto()
        opsetImport.domain = ""
        opsetImport.version = Int64(opset)
        proto.opsetImport = [opsetImport]
        proto.graph = g.graph
        func entry(_ key: String, _ value: String) -> Onnx_StringStringEntryProto {
            var e = Onnx_StringStringEntryProto()
            e.key = key
            e.value = value
            return e
        }
        let names = (try? JSONSerialization.data(withJSONObject: model.classNames)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        proto.metadataProps = [
            entry("mean", artifact.mean.map { String($0) }.joined(separator: ",")),
            entry("std", artifact.std.map { String($0) }.joined(separator: ",")),
            entry("image_size", String(side)),
            entry("architecture", artifact.architecture ?? "resnet_cifar\(artifact.depth)"),
            entry("class_names", names),
        ]
        return proto
    }

    /// Writes `modelProto(model)` to `url`.
    /// - Throws: an error naming the file when it cannot be written.
    public static func write(_ model: PredictionModel, to url: URL) throws {
        let data = try modelProto(model).serializedData()
        do { try data.write(to: url, options: .atomic) } catch {
            throw ExportError("cannot write \(url.path): \(error.localizedDescription)")
        }
    }

    /// The CIFAR ResNet: conv, batch norm, ReLU, the stages of basic blocks with the "option A"
    /// shortcut (stride-2 subsampling, channels zero-padded on both sides), global average pooling.
    private static func cifarFeatures(_ g: inout ONNXGraph, _ net: ResNetCIFAR, input: String, prefix: String) -> String {
        var h = g.batchNorm(g.conv(input, net.conv1, name: prefix + "conv1"), net.bn1, name: prefix + "bn1", relu: true)
        for (s, stage) in net.stages.enumerated() {
            for (b, block) in stage.enumerated() {
                let name = prefix + "layer\(s + 1).\(b)."
                let h1 = g.batchNorm(g.conv(h, block.conv1, name: name + "conv1"), block.bn1, name: name + "bn1", relu: true)
                let out = g.batchNorm(g.conv(h1, block.conv2, name: name + "conv2"), block.bn2, name: name + "bn2", relu: false)
                var shortcut = h
                if let pad = block.shortcutPadding {
                    let stride = block.conv1.stride
                    let sliced = g.node("Slice", [h, g.integers([0, 0]), g.integers([Int64.max, Int64.max]), g.integers([2, 3]),
                                                  g.integers([Int64(stride), Int64(stride)])])
                    shortcut = g.node("Pad", [sliced, g.integers([0, Int64(pad), 0, 0, 0, Int64(pad), 0, 0])], attributes: ["mode": .string("constant")])
                }
                h = g.node("Relu", [g.node("Add", [out, shortcut])])
            }
        }
        return g.node("GlobalAveragePool", [h])
    }

    /// torchvision's ResNet: stem, max pooling, four stages of basic or bottleneck blocks with
    /// 1×1 convolution + batch norm downsampling, global average pooling.
    private static func torchvisionFeatures(_ g: inout ONNXGraph, _ net: ResNetImageNet, input: String) -> String {
        var h = g.batchNorm(g.conv(input, net.conv1, name: "conv1"), net.bn1, name: "bn1", relu: true)
        h = g.node("MaxPool", [h], attributes: ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])])
        for (s, stage) in net.layers.enumerated() {
            for (b, block) in stage.enumerated() {
                let name = "layer\(s + 1).\(b)."
                var out: String
                let downsample: ResNetDownsample?
                if let basic = block as? ResNetBasicBlock {
                    let h1 = g.batchNorm(g.conv(h, basic.conv1, name: name + "conv1"), basic.bn1, name: name + "bn1", relu: true)
                    out = g.batchNorm(g.conv(h1, basic.conv2, name: name + "conv2"), basic.bn2, name: name + "bn2", relu: false)
                    downsample = basic.downsample
                } else {
                    let neck = block as! ResNetBottleneck
                    let h1 = g.batchNorm(g.conv(h, neck.conv1, name: name + "conv1"), neck.bn1, name: name + "bn1", relu: true)
                    let h2 = g.batchNorm(g.conv(h1, neck.conv2, name: name + "conv2"), neck.bn2, name: name + "bn2", relu: true)
                    out = g.batchNorm(g.conv(h2, neck.conv3, name: name + "conv3"), neck.bn3, name: name + "bn3", relu: false)
                    downsample = neck.downsample
                }
                let shortcut = downsample.map {
                    g.batchNorm(g.conv(h, $0.conv, name: name + "downsample.0"), $0.bn, name: name + "downsample.1", relu: false)
                } ?? h
                h = g.node("Relu", [g.node("Add", [out, shortcut])])
            }
        }
        return g.node("GlobalAveragePool", [h])
    }
}

/// An export that cannot be written: one sentence naming the file.
public struct ExportError: Error, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    /// Creates an error with `message`.
    public init(_ message: String) { self.message = message }
    /// The message.
    public var description: String { message }
}
