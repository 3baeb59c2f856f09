/// Every primitive op of the engine. Each case has a forward and a pullback next to it in
/// `Ops/`; the gradient-check tests switch over this enum without `default`, so adding a case
/// fails to compile until the op has a forward, a backward and a check.
public enum PrimitiveOp: String, Sendable, CaseIterable {
    case add, subtract, multiply, divide
    case negate, exp, log, sqrt, relu, scale, addScalar, powScalar
    case matmul, linear
    case sum, mean, max
    case softmax, logSoftmax, crossEntropy
    case l2Normalize
    case reshape, transpose2D, concat, slice
    case maskedFill
    case conv2d, batchNorm2d, batchNormReLU2d, shortcutA, globalAvgPool, maxPool2d, addReLU
    case nchwToNHWC
    case contrastiveLoss
    case mocoLoss
}
