/// The basic residual block of He et al.'s CIFAR ResNets, with the "option A" shortcut
/// (stride-2 subsampling plus zero-padded channels) where the shape changes.
public final class BasicBlock: Module {
    public let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d
    /// Channels padded on each side by the shortcut, or `nil` for the identity.
    public let shortcutPadding: Int?

    public init(inPlanes: Int, planes: Int, stride: Int, rng: inout MT19937) {
        conv1 = Conv2d(inChannels: inPlanes, outChannels: planes, kernelSize: 3, stride: stride, padding: 1, rng: &rng)
        bn1 = BatchNorm2d(channels: planes)
        conv2 = Conv2d(inChannels: planes, outChannels: planes, kernelSize: 3, stride: 1, padding: 1, rng: &rng)
        bn2 = BatchNorm2d(channels: planes)
        shortcutPadding = stride != 1 || inPlanes != planes ? planes / 4 : nil
    }

    public func callAsFunction(_ x: Tensor, training: Bool) -> Tensor {
        let h = bn1(conv1(x), training: training, relu: true)
        let out = bn2(conv2(h), training: training)
        let shortcut = shortcutPadding.map { x.shortcutA(padChannels: $0) } ?? x
        return Tensor.addReLU(out, shortcut)
    }

    public func namedState(prefix: String) -> [(name: String, item: StateItem)] {
        conv1.namedState(prefix: prefix + "conv1.") + bn1.namedState(prefix: prefix + "bn1.")
            + conv2.namedState(prefix: prefix + "conv2.") + bn2.namedState(prefix: prefix + "bn2.")
    }
}

/// The CIFAR ResNets of He et al. (ResNet-20/32/44/56/110): three stages of basic blocks with
/// 16/32/64 channels, global average pooling to a 64-d feature. The reference's `ResNet_s`.
public final class ResNetCIFAR: Module {
    /// Depths by name: blocks per stage = (depth − 2) / 6.
    public static let depths = [20, 32, 44, 56, 110]

    public let conv1: Conv2d, bn1: BatchNorm2d
    public let stages: [[BasicBlock]]
    /// The reference model's classifier layer (64 → classes, 10 by default). The contrastive
    /// forward never uses it, but its `encoder.linear.*` entries are in every reference checkpoint,
    /// so it is kept to load and save those files unchanged; the cross-entropy baseline trains it.
    public let linear: Linear
    /// The feature dimension (64).
    public let featureDimension = 64

    /// A ResNet of the given depth for images with `inputChannels` channels and a classifier
    /// layer for `classCount` classes.
    public init(depth: Int = 32, inputChannels: Int = 3, classCount: Int = 10, rng: inout MT19937) {
        precondition(Self.depths.contains(depth), "ResNetCIFAR: depth \(depth) is not one of \(Self.depths)")
        let blocks = (depth - 2) / 6
        conv1 = Conv2d(inChannels: inputChannels, outChannels: 16, kernelSize: 3, stride: 1, padding: 1, rng: &rng)
        bn1 = BatchNorm2d(channels: 16)
        var inPlanes = 16
        var stages: [[BasicBlock]] = []
        for (planes, firstStride) in [(16, 1), (32, 2), (64, 2)] {
            stages.append((0..<blocks).map { i in
                defer { inPlanes = planes }
                return BasicBlock(inPlanes: inPlanes, planes: planes, stride: i == 0 ? firstStride : 1, rng: &rng)
            })
        }
        self.stages = stages
        linear = Linear(inFeatures: 64, outFeatures: classCount, kaimingWeights: true, rng: &rng)
    }

    /// NHWC images [N, H, W, C] → features [N, 64].
    public func callAsFunction(_ x: Tensor, training: Bool) -> Tensor {
        var h = bn1(conv1(x), training: training, relu: true)
        for stage in stages { for block in stage { h = block(h, training: training) } }
        return h.globalAveragePooled()
    }

    public func namedState(prefix: String) -> [(name: String, item: StateItem)] {
        var out = conv1.namedState(prefix: prefix + "conv1.") + bn1.namedState(prefix: prefix + "bn1.")
        for (s, stage) in stages.enumerated() {
            for (b, block) in stage.enumerated() { out += block.namedState(prefix: prefix + "layer\(s + 1).\(b).") }
        }
        return out + linear.namedState(prefix: prefix + "linear.")
    }
}

/// The first-stage network: encoder plus MLP projection head (64 → 64 → ReLU → 128) and L2
/// normalisation — the reference's `SupConResNet`, with its state-dict names.
public final class SupConResNet: Module {
    public let encoder: ResNetCIFAR
    public let head1: Linear, head2: Linear

    public init(depth: Int = 32, inputChannels: Int = 3, projectionDimension: Int = 128, classCount: Int = 10, seed: UInt32 = 0) {
        var rng = MT19937(seed: seed)
        encoder = ResNetCIFAR(depth: depth, inputChannels: inputChannels, classCount: classCount, rng: &rng)
        head1 = Linear(inFeatures: 64, outFeatures: 64, rng: &rng)
        head2 = Linear(inFeatures: 64, outFeatures: projectionDimension, rng: &rng)
    }

    /// NHWC images → encoder features [N, 64].
    public func features(_ x: Tensor, training: Bool) -> Tensor { encoder(x, training: training) }

    /// Encoder features → L2-normalised projections [N, 128].
    public func project(_ features: Tensor) -> Tensor { head2(head1(features).relu()).l2Normalized() }

    /// Encoder features → class logits [N, classes] through `encoder.linear` (the cross-entropy
    /// first stage; the reference's plain `ResNet_s` forward).
    public func classify(_ features: Tensor) -> Tensor { encoder.linear(features) }

    /// NHWC images → L2-normalised projections.
    public func callAsFunction(_ x: Tensor, training: Bool) -> Tensor { project(features(x, training: training)) }

    public func namedState(prefix: String) -> [(name: String, item: StateItem)] {
        encoder.namedState(prefix: prefix + "encoder.") + head1.namedState(prefix: prefix + "head.0.")
            + head2.namedState(prefix: prefix + "head.2.")
    }
}
