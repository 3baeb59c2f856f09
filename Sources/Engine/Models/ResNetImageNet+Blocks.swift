/// torchvision's `BasicBlock` (ResNet-18/34): two 3×3 convolutions, the stride on the first, and
/// a 1×1 convolution + batch norm `downsample` where the shape changes.
public final class ResNetBasicBlock: Module {
    /// Output channels per input channel of the block's width (1 for the basic block).
    public static let expansion = 1
    public let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d
    /// `downsample.0` (1×1 convolution with the block's stride) and `downsample.1`, or `nil` for the identity.
    public let downsample: ResNetDownsample?

    public init(inPlanes: Int, planes: Int, stride: Int, rng: inout MT19937) {
        conv1 = Conv2d(inChannels: inPlanes, outChannels: planes, kernelSize: 3, stride: stride, padding: 1, fanOut: true, rng: &rng)
        bn1 = BatchNorm2d(channels: planes)
        conv2 = Conv2d(inChannels: planes, outChannels: planes, kernelSize: 3, stride: 1, padding: 1, fanOut: true, rng: &rng)
        bn2 = BatchNorm2d(channels: planes)
        downsample = stride != 1 || inPlanes != planes ? ResNetDownsample(inPlanes: inPlanes, outPlanes: planes, stride: stride, rng: &rng) : nil
    }

    /// NHWC → NHWC: relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut).
    public func callAsFunction(_ x: Tensor, training: Bool) -> Tensor {
        let h = bn1(conv1(x), training: training, relu: true)
        let out = bn2(conv2(h), training: training)
        return Tensor.addReLU(out, downsample?(x, training: training) ?? x)
    }

    public func namedState(prefix: String) -> [(name: String, item: StateItem)] {
        conv1.namedState(prefix: prefix + "conv1.") + bn1.namedState(prefix: prefix + "bn1.")
            + conv2.namedState(prefix: prefix + "conv2.") + bn2.namedState(prefix: prefix + "bn2.")
            + (downsample?.namedState(prefix: prefix + "downsample.") ?? [])
    }
}

/// torchvision's `Bottleneck` (ResNet-50, "v1.5"): 1×1 → 3×3 (with the stride) → 1×1 with four
/// times the width, and a `downsample` where the shape changes.
public final class ResNetBottleneck: Module {
    /// Output channels per channel of the block's width.
    public static let expansion = 4
    public let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d, conv3: Conv2d, bn3: BatchNorm2d
    /// `downsample.0` / `downsample.1`, or `nil` for the identity.
    public let downsample: ResNetDownsample?

    public init(inPlanes: Int, planes: Int, stride: Int, rng: inout MT19937) {
        let outPlanes = planes * Self.expansion
        conv1 = Conv2d(inChannels: inPlanes, outChannels: planes, kernelSize: 1, fanOut: true, rng: &rng)
        bn1 = BatchNorm2d(channels: planes)
        conv2 = Conv2d(inChannels: planes, outChannels: planes, kernelSize: 3, stride: stride, padding: 1, fanOut: true, rng: &rng)
        bn2 = BatchNorm2d(channels: planes)
        conv3 = Conv2d(inChannels: planes, outChannels: outPlanes, kernelSize: 1, fanOut: true, rng: &rng)
        bn3 = BatchNorm2d(channels: outPlanes)
        downsample = stride != 1 || inPlanes != outPlanes
            ? ResNetDownsample(inPlanes: inPlanes, outPlanes: outPlanes, stride: stride, rng: &rng) : nil
    }

    /// NHWC → NHWC.
    public func callAsFunction(_ x: Tensor, training: Bool) -> Tensor {
        let h1 = bn1(conv1(x), training: training, relu: true)
        let h2 = bn2(conv2(h1), training: training, relu: true)
        let out = bn3(conv3(h2), training: training)
        return Tensor.addReLU(out, downsample?(x, training: training) ?? x)
    }

    public func namedState(prefix: String) -> [(name: String, item: StateItem)] {
        conv1.namedState(prefix: prefix + "conv1.") + bn1.namedState(prefix: prefix + "bn1.")
            + conv2.namedState(prefix: prefix + "conv2.") + bn2.namedState(prefix: prefix + "bn2.")
            + conv3.namedState(prefix: prefix + "conv3.") + bn3.namedState(prefix: prefix + "bn3.")
            + (downsample?.namedState(prefix: prefix + "downsample.") ?? [])
    }
}

/// A residual block's projection shortcut: `nn.Sequential(conv1x1(stride), BatchNorm2d)`,
/// state names `0.weight`, `1.weight`, `1.running_mean`, ….
public final class ResNetDownsample: Module {
    public let conv: Conv2d, bn: BatchNorm2d

    public init(inPlanes: Int, outPlanes: Int, stride: Int, rng: inout MT19937) {
        conv = Conv2d(inChannels: inPlanes, outChannels: outPlanes, kernelSize: 1, stride: stride, fanOut: true, rng: &rng)
        bn = BatchNorm2d(channels: outPlanes)
    }

    public func callAsFunction(_ x: Tensor, training: Bool) -> Tensor { bn(conv(x), training: training) }

    public func namedState(prefix: String) -> [(name: String, item: StateItem)] {
        conv.namedState(prefix: prefix + "0.") + bn.namedState(prefix: prefix + "1.")
    }
}

/// A residual block of either kind, so that one network type holds both.
public protocol ResNetBlock: Module {
    func callAsFunction(_ x: Tensor, training: Bool) -> Tensor
}

extension ResNetBasicBlock: ResNetBlock {}
extension ResNetBottleneck: ResNetBlock {}
