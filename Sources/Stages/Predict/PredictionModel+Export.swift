import Foundation
import Engine
import PipelineDSL

extension PredictionModel {
    /// Metadata keys of an exported model file.
    public enum ExportKey {
        /// The encoder's `EncoderArtifact` as JSON (architecture, channels, image size, mean, std).
        public static let encoder = "sbcl.encoder"
        /// `cosine` or `linear`.
        public static let classifier = "sbcl.classifier"
        /// The class names, a JSON array.
        public static let classNames = "sbcl.class_names"
        /// `logitScale`, the factor before the softmax.
        public static let logitScale = "sbcl.logit_scale"
    }

    /// The whole model's state with PyTorch's names, as the authors' code holds it:
    /// a CIFAR ResNet as `SupConResNet` (`encoder.*`, `head.*`) plus the classifier under
    /// `classifier.` (`NormedLinear`'s `weight`, or `LinearClassifier`'s `fc.weight`, `fc.bias`);
    /// a torchvision ResNet as `linear_classify.py`'s model, the backbone with the classifier as
    /// its `fc` (`fc.weight` [classes, features] and `fc.bias`, or a cosine `fc.weight`
    /// [features, classes]).
    public func exportArrays() -> [(name: String, array: HostArray)] {
        switch encoder {
        case let .cifar(model):
            return model.stateArrays() + head.stateArrays().map { ("classifier." + $0.name, $0.array) }
        case let .torchvision(model):
            let fc = head.stateArrays().map { (name: $0.name.hasPrefix("fc.") ? $0.name : "fc." + $0.name, array: $0.array) }
            return model.backboneArrays() + fc
        }
    }

    /// What `fromExport` needs besides the arrays: the encoder's metadata, the classifier form and
    /// the class names, as strings for a safetensors `__metadata__`.
    public func exportMetadata() throws -> [String: String] {
        let encoderJSON = try JSONEncoder().encode(encoderArtifact)
        let names = try JSONSerialization.data(withJSONObject: classNames)
        return ["format": "pt", ExportKey.encoder: String(decoding: encoderJSON, as: UTF8.self),
                ExportKey.classifier: head.form.rawValue, ExportKey.classNames: String(decoding: names, as: UTF8.self),
                ExportKey.logitScale: String(logitScale)]
    }

    /// Writes `exportArrays()` with `exportMetadata()` as a safetensors file.
    public func writeSafeTensors(to url: URL) throws {
        try SafeTensors.write(exportArrays(), metadata: exportMetadata(), to: url)
    }

    /// A model from a file `writeSafeTensors` wrote, or from a torchvision ResNet classifier
    /// state dict in any form `WeightsFile` reads (the authors' `linear_classify.py` checkpoint,
    /// torchvision's own weights): those get ImageNet's normalisation and views at 224 and
    /// numbered classes.
    /// - Throws: `TensorFileError` or `CheckpointError` naming the file.
    public static func fromExport(_ url: URL) throws -> PredictionModel {
        let weights = try WeightsFile.load(contentsOf: url)
        var file = weights.arrays
        let meta = file.metadata
        if let encoderText = meta[ExportKey.encoder] {
            guard let artifact = try? JSONDecoder().decode(EncoderArtifact.self, from: Data(encoderText.utf8)),
                  let form = meta[ExportKey.classifier].flatMap(ClassifierHead.Form.init(rawValue:)) else {
                throw CheckpointError(path: url.path, problems: ["the metadata \(ExportKey.encoder) / \(ExportKey.classifier) is damaged"])
            }
            let names = meta[ExportKey.classNames].flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String] }
            let scale = meta[ExportKey.logitScale].flatMap(Double.init) ?? 1
            if artifact.isCIFAR {
                var encoderFile = file, headFile = file
                encoderFile.tensors.removeAll { $0.name.hasPrefix("classifier.") }
                headFile.tensors = file.tensors.filter { $0.name.hasPrefix("classifier.") }
                    .map { (String($0.name.dropFirst("classifier.".count)), $0.array) }
                let model = try SupConResNet(checkpoint: encoderFile)
                let head = try loadHead(headFile, form: form, features: model.encoder.featureDimension, path: url.path)
                return PredictionModel(encoder: .cifar(model), encoderArtifact: artifact, head: head,
                                       classNames: names ?? numbered(head.classCount), source: url.path, logitScale: scale)
            }
            return try torchvision(file, artifact: artifact, form: form, names: names, path: url.path, scale: scale)
        }
        // No metadata: a torchvision classifier (ResNet + fc), with ImageNet's conventions.
        file.tensors.removeAll { !$0.name.hasPrefix("conv1.") && !$0.name.hasPrefix("bn1.") && !$0.name.hasPrefix("layer") && !$0.name.hasPrefix("fc.") }
        guard let architecture = ResNetImageNet.Architecture(stateNames: Set(file.names)), file["fc.weight"] != nil else {
            throw CheckpointError(path: url.path, problems: [
                "neither a model written by sbcl-run export (no \(ExportKey.encoder) metadata) nor a torchvision resnet18/34/50 with its fc classifier (\(weights.description))"])
        }
        let artifact = EncoderArtifact(architecture: architecture.rawValue, projectionDimension: 128,
                                       mean: AugmentationMean.imageNet, std: AugmentationMean.imageNetStd, imageSize: 224)
        return try torchvision(file, artifact: artifact, form: file["fc.bias"] == nil ? .cosine : .linear, names: nil, path: url.path,
                               scale: file["fc.bias"] == nil ? 30 : 1)
    }

    private static func numbered(_ count: Int) -> [String] { (0..<count).map { "class \($0)" } }

    private static func loadHead(_ file: SafeTensorsFile, form: ClassifierHead.Form, features: Int, path: String) throws -> ClassifierHead {
        let shape = (form == .cosine ? file["weight"] : file["fc.weight"])?.shape ?? []
        guard shape.count == 2 else {
            throw CheckpointError(path: path, problems: ["no \(form == .cosine ? "cosine 'weight'" : "linear 'fc.weight'") for the classifier"])
        }
        let classes = form == .cosine ? shape[1] : shape[0]
        let head = ClassifierHead(form: form, featureCount: features, classCount: classes, seed: 0)
        try head.load(file)
        return head
    }

    private static func torchvision(_ file: SafeTensorsFile, artifact: EncoderArtifact, form: ClassifierHead.Form,
                                    names: [String]?, path: String, scale: Double) throws -> PredictionModel {
        var backbone = file, fc = file
        backbone.tensors.removeAll { $0.name.hasPrefix("fc.") }
        fc.tensors = file.tensors.filter { $0.name.hasPrefix("fc.") }
        if form == .cosine { fc.tensors = fc.tensors.map { (String($0.name.dropFirst(3)), $0.array) } }
        let (model, _) = try ResNetImageNet.loading(backbone)
        let head = try loadHead(fc, form: form, features: model.featureDimension, path: path)
        return PredictionModel(encoder: .torchvision(model), encoderArtifact: artifact, head: head,
                               classNames: names ?? numbered(head.classCount), source: path, logitScale: scale)
    }
}

/// ImageNet's normalisation as the encoder metadata stores it.
enum AugmentationMean {
    static let imageNet: [Float] = [0.485, 0.456, 0.406]
    static let imageNetStd: [Float] = [0.229, 0.224, 0.225]
}
