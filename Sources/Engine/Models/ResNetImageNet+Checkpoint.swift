import Foundation

extension ResNetImageNet.Architecture {
    /// The depth a torchvision ResNet state dict was saved from, told by its names under `prefix`:
    /// bottleneck blocks (`layer1.0.conv3.weight`) make ResNet-50, else six blocks in layer3 make
    /// ResNet-34 and two ResNet-18. `nil` when the names are not a ResNet of these three.
    public init?(stateNames names: Set<String>, prefix: String = "") {
        guard names.contains(prefix + "conv1.weight"), names.contains(prefix + "layer1.0.conv1.weight") else { return nil }
        let counts = (1...4).map { layer in (0..<64).first { !names.contains(prefix + "layer\(layer).\($0).conv1.weight") } ?? 64 }
        let bottleneck = names.contains(prefix + "layer1.0.conv3.weight")
        guard let match = Self.allCases.first(where: { $0.blockCounts == counts && $0.usesBottleneck == bottleneck }) else { return nil }
        self = match
    }
}

extension ResNetImageNet {
    /// A torchvision ResNet (or one encoder of a MoCo checkpoint, with `prefix` `encoder_q.`) read
    /// from `file`: the depth from the names, the head from `fc.weight` (a classifier) or
    /// `fc.0.weight` + `fc.2.weight` (MoCo's MLP). A file with no `fc` (a backbone export) loads
    /// too, with `hasHead` false and a placeholder 1000-class `fc` left at its initial values.
    /// Every backbone name must be there with torchvision's shape; no unknown names under `prefix`.
    public static func loading(_ file: SafeTensorsFile, prefix: String = "") throws -> (model: ResNetImageNet, hasHead: Bool) {
        let names = Set(file.names)
        guard let architecture = Architecture(stateNames: names, prefix: prefix) else {
            throw CheckpointError(path: file.path, problems: [
                "not a torchvision resnet18/34/50 state dict: no '\(prefix)conv1.weight' and '\(prefix)layer1.0.conv1.weight', "
                    + "or block counts that match none of them"])
        }
        let inputChannels = file[prefix + "conv1.weight"]?.shape.dropFirst().first ?? 3
        let model: ResNetImageNet, hasHead: Bool
        if let last = file[prefix + "fc.2.weight"], file[prefix + "fc.0.weight"] != nil, last.shape.count == 2 {
            model = ResNetImageNet(architecture, inputChannels: inputChannels, classCount: last.shape[0], mlpHead: true, seed: 0)
            hasHead = true
        } else if let fc = file[prefix + "fc.weight"], fc.shape.count == 2 {
            model = ResNetImageNet(architecture, inputChannels: inputChannels, classCount: fc.shape[0], seed: 0)
            hasHead = true
        } else {
            model = ResNetImageNet(architecture, inputChannels: inputChannels, seed: 0)
            hasHead = false
        }
        var source = file
        if !hasHead {
            // The placeholder head keeps its own values: the load checks only the backbone's names.
            source.tensors += model.stateArrays().filter { $0.name.hasPrefix("fc.") }.map { (prefix + $0.name, $0.array) }
        }
        try model.load(source, prefix: prefix, strict: true)
        return (model, hasHead)
    }

    /// The backbone's state (no `fc`) with torchvision's names: loads into `torchvision.models.
    /// resnet50()` (or 18/34) with `strict=False`, where only `fc.weight` and `fc.bias` are reported missing.
    public func backboneArrays() -> [(name: String, array: HostArray)] {
        stateArrays().filter { !$0.name.hasPrefix("fc.") }
    }
}
