import Engine
import PipelineDSL

/// The shapes of the encoders a stage may train, walked without building them, for the plan-time
/// memory estimate (`MemoryEstimate`): parameter counts and the activations a training step keeps
/// for its backward pass.
///
/// The step keeps, per convolution + batch-norm (+ ReLU) unit, the convolution's output and the
/// normalised output, and per residual block its sum: `savedFloats` counts those. The factors
/// that turn counts into bytes were measured against peak RSS (docs/imagenet_lt.md, "Memory").
public enum MemoryModel {
    /// One network's totals.
    public struct Network: Sendable, Equatable {
        /// Trainable parameters (with the projection head where the stage has one).
        public var parameters: Int
        /// Floats kept per image between forward and backward in training mode.
        public var savedFloats: Int
        /// The largest single activation per image (a ceiling on one layer's work buffers).
        public var largestFloats: Int
    }

    /// He et al.'s CIFAR ResNet of `depth` on `side`×`side`×`channels` images, with the 64 → 64 →
    /// `projection` head.
    public static func resnetCIFAR(depth: Int, side: Int, channels: Int, projection: Int) -> Network {
        var walk = Walk()
        walk.unit(cin: channels, cout: 16, kernel: 3, side: side)
        var cin = 16, s = side
        for (planes, stride) in [(16, 1), (32, 2), (64, 2)] {
            for block in 0..<((depth - 2) / 6) {
                if block == 0 && stride == 2 { s = (s + 1) / 2 }
                walk.unit(cin: cin, cout: planes, kernel: 3, side: s)
                walk.unit(cin: planes, cout: planes, kernel: 3, side: s)
                walk.sum(planes * s * s)
                cin = planes
            }
        }
        walk.parameters += 64 * 64 + 64 + 64 * projection + projection + 64 * 10 + 10
        return walk.network
    }

    /// torchvision's `resnet18`, `resnet34` or `resnet50` on `side`×`side` RGB images, with the
    /// MoCo v2 MLP head (d → d → `projection`) in place of `fc`; nil for another name.
    public static func resnetImageNet(_ architecture: ResNetImageNet.Architecture, side: Int, projection: Int) -> Network {
        let bottleneck = architecture.usesBottleneck, counts = architecture.blockCounts
        var walk = Walk()
        var s = (side + 1) / 2
        walk.unit(cin: 3, cout: 64, kernel: 7, side: s)
        s = (s + 1) / 2
        walk.sum(64 * s * s)  // the max-pool's output
        var cin = 64
        for (stage, count) in counts.enumerated() {
            let width = 64 << stage, out = bottleneck ? 4 * width : width
            for block in 0..<count {
                let inSide = s
                if block == 0 && stage > 0 { s = (s + 1) / 2 }
                if bottleneck {
                    walk.unit(cin: cin, cout: width, kernel: 1, side: inSide)
                    walk.unit(cin: width, cout: width, kernel: 3, side: s)
                    walk.unit(cin: width, cout: out, kernel: 1, side: s)
                } else {
                    walk.unit(cin: cin, cout: width, kernel: 3, side: s)
                    walk.unit(cin: width, cout: width, kernel: 3, side: s)
                }
                if block == 0 && (stage > 0 || cin != out) { walk.unit(cin: cin, cout: out, kernel: 1, side: s) }
                walk.sum(out * s * s)
                cin = out
            }
        }
        walk.parameters += cin * cin + cin + cin * projection + projection
        return walk.network
    }

    /// Counts as a network is walked.
    struct Walk {
        var parameters = 0, saved = 0, largest = 0
        /// A convolution without bias, batch norm and ReLU: weights, and two saved outputs.
        mutating func unit(cin: Int, cout: Int, kernel: Int, side: Int) {
            parameters += kernel * kernel * cin * cout + 2 * cout
            let output = cout * side * side
            saved += 2 * output
            largest = max(largest, output)
        }
        /// A residual sum or pooling output kept for the backward pass.
        mutating func sum(_ floats: Int) { saved += floats }
        var network: Network { Network(parameters: parameters, savedFloats: saved, largestFloats: largest) }
    }
}
