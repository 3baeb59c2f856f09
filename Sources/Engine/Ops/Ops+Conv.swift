import CBLAS

/// The geometry of a 2-D convolution over NHWC activations with OIHW weights.
public struct ConvGeometry: Equatable, Sendable {
    public var batch, height, width, inChannels, outChannels: Int
    public var kernelHeight, kernelWidth, stride, padding: Int

    /// Output height and width.
    public var outHeight: Int { (height + 2 * padding - kernelHeight) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernelWidth) / stride + 1 }
    /// Multiply-adds ×2 of the forward pass.
    public var forwardFLOPs: Double {
        2 * Double(batch * outHeight * outWidth) * Double(outChannels * inChannels * kernelHeight * kernelWidth)
    }

    public init(batch: Int, height: Int, width: Int, inChannels: Int, outChannels: Int,
                kernelHeight: Int, kernelWidth: Int, stride: Int, padding: Int) {
        self.batch = batch; self.height = height; self.width = width
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.stride = stride; self.padding = padding
    }
}

extension Tensor {
    /// 2-D convolution without bias: input NHWC [N, H, W, Cin], weight OIHW [Cout, Cin, kh, kw]
    /// (PyTorch's layout), output NHWC [N, Ho, Wo, Cout].
    public static func conv2d(_ input: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0) -> Tensor {
        precondition(input.rank == 4 && weight.rank == 4 && input.shape[3] == weight.shape[1],
                     "conv2d: input NHWC \(input.shape) does not match weight OIHW \(weight.shape)")
        precondition(stride >= 1 && padding >= 0, "conv2d: stride \(stride) and padding \(padding) must be ≥ 1 and ≥ 0")
        let g = ConvGeometry(batch: input.shape[0], height: input.shape[1], width: input.shape[2],
                             inChannels: input.shape[3], outChannels: weight.shape[0],
                             kernelHeight: weight.shape[2], kernelWidth: weight.shape[3], stride: stride, padding: padding)
        precondition(g.outHeight >= 1 && g.outWidth >= 1, "conv2d: kernel \(weight.shape) larger than padded input \(input.shape)")
        let out = Tensor(uninitializedShape: [g.batch, g.outHeight, g.outWidth, g.outChannels], on: input.backend)
        Im2colConvolution.forward(g, input: input.storage.floats, weight: weight.storage.floats, output: out.storage.floats)
        return recorded(out, op: .conv2d, inputs: [input, weight]) { grad, needs in
            var gi: Tensor?, gw: Tensor?
            if needs[0] {
                gi = Tensor(uninitializedShape: input.shape, on: grad.backend)
                Im2colConvolution.backwardData(g, gradOutput: grad.storage.floats, weight: weight.storage.floats, gradInput: gi!.storage.floats)
            }
            if needs[1] {
                gw = Tensor(uninitializedShape: weight.shape, on: grad.backend)
                Im2colConvolution.backwardWeight(g, input: input.storage.floats, gradOutput: grad.storage.floats, gradWeight: gw!.storage.floats)
            }
            return [gi, gw]
        }
    }
}
