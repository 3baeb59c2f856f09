/// A 2-D convolution without bias over NHWC activations; the weight is OIHW like PyTorch's.
public final class Conv2d: Module {
    public let weight: Parameter
    public let stride: Int, padding: Int

    /// Kaiming-normal weights: fan-in (the CIFAR reference's `_weights_init`), or fan-out when
    /// `fanOut` (torchvision's ResNets).
    public init(inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, fanOut: Bool = false,
                rng: inout MT19937) {
        let shape = [outChannels, inChannels, kernelSize, kernelSize]
        weight = Parameter(fanOut ? Initialization.kaimingNormalFanOut(shape, &rng) : Initialization.kaimingNormal(shape, &rng))
        self.stride = stride
        self.padding = padding
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { Tensor.conv2d(x, weight: weight.value, stride: stride, padding: padding) }

    public func namedState(prefix: String) -> [(name: String, item: StateItem)] { [(prefix + "weight", .parameter(weight))] }
}

/// Batch normalisation over the channels of NHWC activations, PyTorch's `BatchNorm2d`.
public final class BatchNorm2d: Module {
    public let weight: Parameter, bias: Parameter
    public let statistics: BatchNormStatistics

    public init(channels: Int) {
        weight = Parameter(Tensor(repeating: 1, shape: [channels]))
        bias = Parameter(.zeros([channels]))
        statistics = BatchNormStatistics(channels: channels)
    }

    /// Normalises; `relu` fuses the ReLU that follows in the ResNet blocks.
    public func callAsFunction(_ x: Tensor, training: Bool, relu: Bool = false) -> Tensor {
        Tensor.batchNorm2d(x, gamma: weight.value, beta: bias.value, statistics: statistics, training: training, relu: relu)
    }

    public func namedState(prefix: String) -> [(name: String, item: StateItem)] {
        [(prefix + "weight", .parameter(weight)), (prefix + "bias", .parameter(bias)),
         (prefix + "running_mean", .runningMean(statistics)), (prefix + "running_var", .runningVariance(statistics)),
         (prefix + "num_batches_tracked", .batchesTracked(statistics))]
    }
}

/// A fully connected layer, y = x·Wᵀ + b, weight [out, in] like PyTorch's `nn.Linear`.
public final class Linear: Module {
    public let weight: Parameter, bias: Parameter

    /// PyTorch's default initialisation (uniform ±1/√in for weight and bias), or Kaiming-normal
    /// weights when `kaimingWeights` (the reference applies that to the encoder's layers).
    public init(inFeatures: Int, outFeatures: Int, kaimingWeights: Bool = false, rng: inout MT19937) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Parameter(kaimingWeights ? Initialization.kaimingNormal([outFeatures, inFeatures], &rng)
                                          : Initialization.uniform([outFeatures, inFeatures], bound: bound, &rng))
        bias = Parameter(Initialization.uniform([outFeatures], bound: bound, &rng))
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { Tensor.linear(x, weight: weight.value, bias: bias.value) }

    public func namedState(prefix: String) -> [(name: String, item: StateItem)] {
        [(prefix + "weight", .parameter(weight)), (prefix + "bias", .parameter(bias))]
    }
}
