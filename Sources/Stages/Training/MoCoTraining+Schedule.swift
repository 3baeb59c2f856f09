import Foundation

/// The rules of the MoCo loop's two halves as functions of the epoch alone, so that
/// Tests/StagesTests/MoCoTrajectoryParityTests.swift replays the loop's own schedule against the
/// authors' `moco/main.py` (docs/fidelity.md, "The MoCo half over 60+ steps").
extension MoCoTraining {
    /// The rate of `epoch` (from 1): `base · ½(1 + cos(π e / E_half))`, e counted from 0 within its
    /// half (KCL's `warmupEpochs`, then the rest), as `adjust_learning_rate` is called per half.
    static func rate(epoch: Int, epochs: Int, warmupEpochs: Int, base: Float) -> Float {
        let (e, length) = epoch <= warmupEpochs ? (epoch - 1, warmupEpochs) : (epoch - warmupEpochs - 1, epochs - warmupEpochs)
        return base * 0.5 * (1 + Float(cos(Double.pi * Double(e) / Double(max(length, 1)))))
    }

    /// Whether the SBCL half re-clusters before `epoch` (from 1): its first epoch and every
    /// `every`-th after (`epoch % args.step == 0`, e counted from 0 within the half).
    static func reclusters(atEpoch epoch: Int, warmupEpochs: Int, every: Int) -> Bool {
        epoch > warmupEpochs && (epoch - warmupEpochs - 1) % every == 0
    }

    /// Whether `epoch` (from 1) starts with a fresh optimiser (momentum buffers cleared): the
    /// first epoch of the SBCL half, where the reference builds a new SGD.
    static func startsFreshOptimizer(atEpoch epoch: Int, warmupEpochs: Int) -> Bool { epoch == warmupEpochs + 1 }
}
