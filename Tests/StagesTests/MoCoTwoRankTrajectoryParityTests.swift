import Engine
import Foundation
@testable import Stages
import TestSupport
import XCTest

/// Trajectory parity of the ImageNet-LT first stage on 2 ranks with the authors' `moco/` code
/// under DistributedDataParallel (gloo, 2 processes): the 64 steps of MoCoTrajectoryParityTests
/// (the same views, batches, KCL draws, schedule and re-clusterings), each global batch of 16 cut
/// into the ranks' contiguous halves (`rankSlice`), the key crops shuffled across the ranks by the
/// reference's own permutations (`_batch_shuffle_ddp`, fed to `MoCoStep` as `keyPermutation`), the
/// keys and labels gathered into the queue (`concat_all_gather`), the gradients averaged and rank 0's
/// batch-norm buffers used everywhere (DDP's `broadcast_buffers`). Ours runs both ranks of what the
/// training loop runs — `MoCoStep` at a place whose communicator has 2 ranks — on two threads of
/// this process (`ThreadCommunicator`).
///
/// The checks and bounds are MoCoTrajectoryParityTests': twice the larger of PyTorch float32's and
/// a perturbed float32 path's deviation from the reference's float64 replay, here of the 2-rank
/// run (scripts/fidelity/moco_trajectory_reference.py --ranks 2); rank 0's model is held to them.
/// And what the protocol promises: both ranks return the same loss bits and end with the same
/// bits of weights, running statistics, momentum buffers and queue.
final class MoCoTwoRankTrajectoryParityTests: XCTestCase {
    func testSixtyFourMoCoStepsOnTwoRanksFollowTheReferenceTrajectory() throws {
        let reference = try MoCoTrajectoryReference(figures: "ranks2")
        XCTAssertEqual(try reference.meta("ranks"), 2, "a 2-rank reference run")
        let shuffle = try reference.figures.array(named: "shuffle")
        let permutations = try shuffle.int64s().map(Int.init).chunked(shuffle.shape[1])
        XCTAssertEqual(permutations.count, reference.steps)
        // Both ranks start from the same model, as DDP's broadcast of rank 0's state makes them.
        let ranks = (0..<2).map { _ in reference.makeModel() }
        let initial = ranks[0].initial
        XCTAssertEqual(ranks[1].initial.count, initial.count)
        let models = ranks.map(\.model)
        let runs = ThreadCommunicator.run(ranks: 2) { communicator in
            let model = models[communicator.rank]
            model.communicator = communicator
            let step = MoCoStep(model: model, optimizer: reference.makeOptimizer(model),
                                place: .cpu(threads: 2, communicator: communicator))
            let run = reference.train(step, rank: communicator.rank, of: 2, permutations: permutations)
            return (run, StateDigest.of(model, optimizer: step.optimizer))
        }
        XCTAssertEqual(runs[0].0.losses.map(\.bitPattern), runs[1].0.losses.map(\.bitPattern), "both ranks' step losses, bit for bit")
        XCTAssertEqual(runs[0].1, runs[1].1, "both ranks' weights, running statistics and momentum buffers, bit for bit")
        XCTAssertEqual(models[0].queue.scalars, models[1].queue.scalars, "both ranks' queues")
        for (name, z) in runs[0].0.projections.sorted(by: { $0.key < $1.key }) {
            let other = runs[1].0.projections[name] ?? []
            let largest = zip(z, other).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertTrue(z.count == other.count && largest == 0,
                          "\(name): the ranks' re-clustering projections differ (largest difference \(largest))")
        }
        print("MoCo trajectory, 2 ranks: rank 1's own running statistics against rank 0's in the reference after the last step "
              + "(DDP broadcasts them at the next forward): \(reference.figures.metadata["rank1_running_vs_rank0"] ?? "?") of their norm")
        try reference.check(runs[0].0, model: models[0], initial: initial, label: "MoCo trajectory, 2 ranks")
    }
}

private extension Array {
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
