import Foundation

/// Weight initialisations, drawn from an `MT19937` so a run's seed fixes them.
public enum Initialization {
    /// A standard normal value (Box–Muller on two uniform draws).
    public static func standardNormal(_ rng: inout MT19937) -> Float {
        var u1 = rng.nextDouble()
        while u1 <= .leastNonzeroMagnitude { u1 = rng.nextDouble() }
        let u2 = rng.nextDouble()
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2))
    }

    /// Kaiming (He) normal with fan-in and the ReLU gain: N(0, 2/fan_in), as PyTorch's
    /// `kaiming_normal_` with its defaults. `fanIn` is the product of all dimensions but the first.
    public static func kaimingNormal(_ shape: [Int], _ rng: inout MT19937) -> Tensor {
        let fanIn = shape.dropFirst().reduce(1, *)
        let std = Float((2.0 / Double(Swift.max(fanIn, 1))).squareRoot())
        return Tensor((0..<shape.reduce(1, *)).map { _ in standardNormal(&rng) * std }, shape: shape)
    }

    /// Kaiming (He) normal with fan-out and the ReLU gain: N(0, 2/fan_out), fan_out = shape[0] ×
    /// the product of the dimensions after the second (`kaiming_normal_(mode="fan_out",
    /// nonlinearity="relu")`, torchvision's ResNet convolutions).
    public static func kaimingNormalFanOut(_ shape: [Int], _ rng: inout MT19937) -> Tensor {
        let fanOut = shape[0] * shape.dropFirst(2).reduce(1, *)
        let std = Float((2.0 / Double(Swift.max(fanOut, 1))).squareRoot())
        return Tensor((0..<shape.reduce(1, *)).map { _ in standardNormal(&rng) * std }, shape: shape)
    }

    /// Uniform in ±bound: PyTorch's default `nn.Linear` initialisation uses bound 1/√fan_in for
    /// both the weight and the bias.
    public static func uniform(_ shape: [Int], bound: Float, _ rng: inout MT19937) -> Tensor {
        Tensor((0..<shape.reduce(1, *)).map { _ in Float(rng.nextDouble() * 2 - 1) * bound }, shape: shape)
    }
}
