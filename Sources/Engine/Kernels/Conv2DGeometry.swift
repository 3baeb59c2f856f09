/// The shape of one 2-D convolution: NHWC activations, OIHW weights, dilation 1, one group, no bias.
///
/// Output size follows PyTorch: `(input + 2·padding − kernel) / stride + 1`, rounded down.
public struct Conv2DGeometry: Hashable, Sendable, CustomStringConvertible {
    /// Images in the batch (N).
    public var batch: Int
    /// Input height (H) in pixels.
    public var inputHeight: Int
    /// Input width (W) in pixels.
    public var inputWidth: Int
    /// Input channels (C_in).
    public var inputChannels: Int
    /// Output channels (C_out).
    public var outputChannels: Int
    /// Kernel height (KH).
    public var kernelHeight: Int
    /// Kernel width (KW).
    public var kernelWidth: Int
    /// Vertical stride.
    public var strideHeight: Int
    /// Horizontal stride.
    public var strideWidth: Int
    /// Zero rows added above and below the input.
    public var paddingHeight: Int
    /// Zero columns added left and right of the input.
    public var paddingWidth: Int

    /// A convolution with a square kernel, stride and padding.
    public init(batch: Int, inputHeight: Int, inputWidth: Int, inputChannels: Int, outputChannels: Int,
                kernelSize: Int, stride: Int = 1, padding: Int = 0) {
        self.init(batch: batch, inputHeight: inputHeight, inputWidth: inputWidth,
                  inputChannels: inputChannels, outputChannels: outputChannels,
                  kernelHeight: kernelSize, kernelWidth: kernelSize,
                  strideHeight: stride, strideWidth: stride,
                  paddingHeight: padding, paddingWidth: padding)
    }

    /// A convolution with independent vertical and horizontal kernel size, stride and padding.
    public init(batch: Int, inputHeight: Int, inputWidth: Int, inputChannels: Int, outputChannels: Int,
                kernelHeight: Int, kernelWidth: Int, strideHeight: Int, strideWidth: Int,
                paddingHeight: Int, paddingWidth: Int) {
        self.batch = batch
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.paddingHeight = paddingHeight
        self.paddingWidth = paddingWidth
    }

    /// Output height: `(H + 2·padH − KH) / strideH + 1`.
    public var outputHeight: Int { (inputHeight + 2 * paddingHeight - kernelHeight) / strideHeight + 1 }
    /// Output width: `(W + 2·padW − KW) / strideW + 1`.
    public var outputWidth: Int { (inputWidth + 2 * paddingWidth - kernelWidth) / strideWidth + 1 }
    /// Floats in the NHWC input.
    public var inputCount: Int { batch * inputHeight * inputWidth * inputChannels }
    /// Floats in the NHWC output.
    public var outputCount: Int { batch * outputHeight * outputWidth * outputChannels }
    /// Floats in the OIHW weight.
    public var weightCount: Int { outputChannels * inputChannels * kernelHeight * kernelWidth }
    /// Floating-point operations of one forward pass (a multiply-add counts 2); each backward costs the same.
    public var flops: Double {
        2 * Double(batch * outputHeight * outputWidth) * Double(outputChannels * inputChannels * kernelHeight * kernelWidth)
    }

    /// A short description such as `N256 32x32x16 -> 16 k3x3 s1 p1`.
    public var description: String {
        "N\(batch) \(inputHeight)x\(inputWidth)x\(inputChannels) -> \(outputChannels) "
            + "k\(kernelHeight)x\(kernelWidth) s\(strideHeight)x\(strideWidth) p\(paddingHeight)x\(paddingWidth)"
    }

    /// Traps with the op name and geometry unless every size is usable and the buffers match it.
    func validate(_ op: String, input: Int, output: Int, weight: Int) {
        precondition(batch >= 0 && inputChannels > 0 && outputChannels > 0
                        && kernelHeight > 0 && kernelWidth > 0 && strideHeight > 0 && strideWidth > 0
                        && paddingHeight >= 0 && paddingWidth >= 0,
                     "\(op): invalid geometry \(self)")
        precondition(outputHeight > 0 && outputWidth > 0, "\(op): empty output for \(self)")
        precondition(input == inputCount, "\(op): input has \(input) floats, geometry \(self) needs \(inputCount)")
        precondition(output == outputCount, "\(op): output has \(output) floats, geometry \(self) needs \(outputCount)")
        precondition(weight == weightCount, "\(op): weight has \(weight) floats, geometry \(self) needs \(weightCount)")
    }
}
