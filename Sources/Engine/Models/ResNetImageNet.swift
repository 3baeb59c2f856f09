/// torchvision's ImageNet ResNets (`resnet18`, `resnet34`, `resnet50`) over NHWC images: a 7×7
/// stride-2 stem, batch norm, ReLU, 3×3 stride-2 max pooling, four stages of residual blocks,
/// global average pooling and `fc`. State names are exactly torchvision's `state_dict` keys.
///
/// With `mlpHead`, `fc` is MoCo v2's projection `nn.Sequential(Linear(d, d), ReLU, Linear(d, classCount))`
/// (names `fc.0.*`, `fc.2.*`), as `moco.MoCo(..., mlp=True)` builds it.
public final class ResNetImageNet: Module {
    /// The three depths the ImageNet-LT setting uses.
    public enum Architecture: String, CaseIterable, Sendable {
        case resnet18, resnet34, resnet50

        /// Blocks in layer1 … layer4.
        public var blockCounts: [Int] {
            switch self {
            case .resnet18: return [2, 2, 2, 2]
            case .resnet34, .resnet50: return [3, 4, 6, 3]
            }
        }

        /// True for the bottleneck blocks of ResNet-50.
        public var usesBottleneck: Bool { self == .resnet50 }

        /// The pooled feature size: 512, or 2048 for ResNet-50.
        public var featureDimension: Int { usesBottleneck ? 2048 : 512 }
    }

    public let architecture: Architecture
    public let conv1: Conv2d, bn1: BatchNorm2d
    /// layer1 … layer4.
    public let layers: [[any ResNetBlock]]
    /// The first layer of the MLP head (`fc.0`), or `nil` for a plain linear `fc`.
    public let fcHidden: Linear?
    /// The output layer: `fc`, or `fc.2` with an MLP head.
    public let fc: Linear

    /// The pooled feature size (512 or 2048).
    public var featureDimension: Int { architecture.featureDimension }
    /// The size of `fc`'s output.
    public var outputDimension: Int { fc.weight.shape[0] }

    /// A network initialised as torchvision does (Kaiming-normal fan-out convolutions, batch norm
    /// 1 and 0, PyTorch's default `Linear`), drawn from `rng`; the values are not torch's draws.
    public init(_ architecture: Architecture, inputChannels: Int = 3, classCount: Int = 1000, mlpHead: Bool = false,
                rng: inout MT19937) {
        self.architecture = architecture
        conv1 = Conv2d(inChannels: inputChannels, outChannels: 64, kernelSize: 7, stride: 2, padding: 3, fanOut: true, rng: &rng)
        bn1 = BatchNorm2d(channels: 64)
        var inPlanes = 64
        var layers: [[any ResNetBlock]] = []
        for (stage, count) in architecture.blockCounts.enumerated() {
            let planes = 64 << stage
            layers.append((0..<count).map { i -> any ResNetBlock in
                let stride = i == 0 && stage > 0 ? 2 : 1
                if architecture.usesBottleneck {
                    defer { inPlanes = planes * ResNetBottleneck.expansion }
                    return ResNetBottleneck(inPlanes: inPlanes, planes: planes, stride: stride, rng: &rng)
                }
                defer { inPlanes = planes * ResNetBasicBlock.expansion }
                return ResNetBasicBlock(inPlanes: inPlanes, planes: planes, stride: stride, rng: &rng)
            })
        }
        self.layers = layers
        let d = architecture.featureDimension
        fcHidden = mlpHead ? Linear(inFeatures: d, outFeatures: d, rng: &rng) : nil
        fc = Linear(inFeatures: d, outFeatures: classCount, rng: &rng)
    }

    /// A network seeded with `seed` (see `init(_:inputChannels:classCount:mlpHead:rng:)`).
    public convenience init(_ architecture: Architecture, inputChannels: Int = 3, classCount: Int = 1000, mlpHead: Bool = false,
                            seed: UInt32) {
        var rng = MT19937(seed: seed)
        self.init(architecture, inputChannels: inputChannels, classCount: classCount, mlpHead: mlpHead, rng: &rng)
    }

    /// NHWC images [N, H, W, C] → pooled backbone features [N, 512 or 2048] (everything but `fc`).
    public func features(_ x: Tensor, training: Bool) -> Tensor {
        var h = bn1(conv1(x), training: training, relu: true).maxPooled(kernelSize: 3, stride: 2, padding: 1)
        for stage in layers { for block in stage { h = block(h, training: training) } }
        return h.globalAveragePooled()
    }

    /// Pooled features → `fc`'s output (through the MLP head's hidden layer and ReLU when present).
    public func head(_ features: Tensor) -> Tensor {
        guard let fcHidden else { return fc(features) }
        return fc(fcHidden(features).relu())
    }

    /// NHWC images → `fc`'s output: torchvision's `model(x)` (on NCHW).
    public func callAsFunction(_ x: Tensor, training: Bool) -> Tensor { head(features(x, training: training)) }

    public func namedState(prefix: String) -> [(name: String, item: StateItem)] {
        var out = conv1.namedState(prefix: prefix + "conv1.") + bn1.namedState(prefix: prefix + "bn1.")
        for (s, stage) in layers.enumerated() {
            for (b, block) in stage.enumerated() { out += block.namedState(prefix: prefix + "layer\(s + 1).\(b).") }
        }
        if let fcHidden {
            return out + fcHidden.namedState(prefix: prefix + "fc.0.") + fc.namedState(prefix: prefix + "fc.2.")
        }
        return out + fc.namedState(prefix: prefix + "fc.")
    }

    /// The names of the backbone's state: everything but `fc` (what loads into any torchvision
    /// ResNet of the same depth whatever its classifier).
    public var backboneState: [(name: String, item: StateItem)] { state.filter { !$0.name.hasPrefix("fc.") } }
}
