import XCTest
import Foundation
import PipelineDSL
import Engine
import Datasets
import TestSupport
@testable import Stages

/// `batch_norm_groups` of the encoder stage: the CIFAR two-view step normalises each view alone
/// with 2 groups (the reference's `DataParallel` on 2 GPUs), the MoCo step normalises the query
/// batch in groups and runs the keys through a permutation (one process's shuffle BN), and the
/// plan refuses batches the groups do not split.
final class BatchNormGroupsStageTests: XCTestCase {
    /// Two views of 6 random 8×8×1 images, view-major, with labels of 3 classes.
    func twoViewBatch() -> Batch {
        var r = TestRandom(seed: 41)
        return Batch(images: r.uniform(2 * 6 * 64, -1, 1), labels: [0, 1, 2, 0, 1, 2], indices: Array(0..<6), views: 2, batchSize: 6,
                     height: 8, width: 8, channels: 1, position: LoaderPosition(epoch: 1, step: 0))
    }

    func model() -> SupConResNet { SupConResNet(depth: 20, inputChannels: 1, projectionDimension: 16, seed: 3) }

    /// The loss and every parameter's gradient of one `EncoderStep` with `groups`, and the model after.
    func encoderStep(groups: Int) -> (loss: Float, gradients: [[Float]], model: SupConResNet) {
        let model = model()
        let optimizer = SGD(parameters: model.namedParameters, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4)
        let step = EncoderStep(model: model, optimizer: optimizer, place: .cpu(threads: 2), batchNormGroups: groups)
        let loss = ContrastiveLoss(ContrastiveLossStage.Losses(.defaults).warmup)
        let (value, gradients) = step.gradients(twoViewBatch(), objective: .contrastive(loss, subclasses: [], temperatures: []))
        // The 64 → 10 classifier layer gets none from a contrastive loss: empty.
        return (value, model.namedParameters.map { gradients![$0.parameter.value]?.scalars ?? [] }, model)
    }

    func testTwoGroupsNormaliseEachViewAloneAsTwoForwardPasses() {
        let grouped = encoderStep(groups: 2), whole = encoderStep(groups: 1)
        XCTAssertGreaterThan(abs(grouped.loss - whole.loss), 1e-4, "2 groups give the loss of 1 group")

        // The same by hand: each view through the encoder alone (its own batch statistics); the
        // running statistics kept are those after view 1.
        let model = model()
        let batch = twoViewBatch()
        let input = Tensor(batch.images, shape: batch.shape)
        let first = model(input.sliced(axis: 0, 0..<6), training: true)
        let afterFirst = model.batchNormStatistics.map { ($0.runningMean.scalars, $0.runningVariance.scalars) }
        let second = model(input.sliced(axis: 0, 6..<12), training: true)
        let value = Tensor.contrastiveLoss(Tensor.concat([first, second], axis: 0), ContrastiveLoss(ContrastiveLossStage.Losses(.defaults).warmup),
                                           ContrastiveTargets(labels: batch.labels))
        let gradients = value.gradients()
        XCTAssertEqual(grouped.loss, value.item, accuracy: 1e-5 * abs(value.item))
        for ((name, parameter), ours) in zip(model.namedParameters, grouped.gradients) {
            assertAllClose(ours, gradients[parameter.value]?.scalars ?? [], rtol: 1e-3, atol: 1e-6, "gradient of \(name)")
        }
        for (k, (statistics, expected)) in zip(grouped.model.batchNormStatistics, afterFirst).enumerated() {
            assertAllClose(statistics.runningMean.scalars, expected.0, rtol: 1e-5, atol: 1e-6, "running mean \(k): view 1's")
            assertAllClose(statistics.runningVariance.scalars, expected.1, rtol: 1e-5, atol: 1e-6, "running variance \(k): view 1's")
            XCTAssertEqual(statistics.batchesTracked, 1)
        }
    }

    func testOneGroupIsTheStepAsBefore() {
        // The default: bit for bit what a step without the setting computes.
        let model = model()
        let optimizer = SGD(parameters: model.namedParameters, learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4)
        let loss = ContrastiveLoss(ContrastiveLossStage.Losses(.defaults).warmup)
        let plain = EncoderStep(model: model, optimizer: optimizer, place: .cpu(threads: 2))
            .gradients(twoViewBatch(), objective: .contrastive(loss, subclasses: [], temperatures: []))
        let one = encoderStep(groups: 1)
        XCTAssertEqual(plain.loss.bitPattern, one.loss.bitPattern)
        for ((_, parameter), ours) in zip(model.namedParameters, one.gradients) {
            XCTAssertEqual((plain.gradients![parameter.value]?.scalars ?? []).map(\.bitPattern), ours.map(\.bitPattern))
        }
    }

    // MARK: MoCo

    /// Query and key crops of 8 random 32×32×3 images.
    func crops() -> (query: Tensor, key: Tensor) {
        var r = TestRandom(seed: 17)
        return (r.tensor([8, 32, 32, 3]), r.tensor([8, 32, 32, 3]))
    }

    func testMoCoQueryInGroupsAndKeysThroughThePermutation() {
        let (query, key) = crops()
        let permutation = MoCo.keyPermutation(count: 8, seed: 3, epoch: 1, step: 0)
        let labels = [0, 1, 2, 3, 0, 1, 2, 3]
        let model = MoCo(.resnet18, dimension: 16, queueSize: 16, momentum: 0.99, seed: 9)
        model.batchNormGroups = 2
        let output = model.forward(query: query, key: key, subclassLabels: labels, classLabels: labels, training: true, keyPermutation: permutation)

        // By hand, on a copy: the query encoder on each half alone.
        let copy = MoCo(.resnet18, dimension: 16, queueSize: 16, momentum: 0.99, seed: 9)
        let q = Tensor.concat([copy.encoderQuery(query.sliced(axis: 0, 0..<4), training: true),
                               copy.encoderQuery(query.sliced(axis: 0, 4..<8), training: true)], axis: 0).l2Normalized()
        assertAllClose(output.query.scalars, q.scalars, rtol: 1e-4, atol: 1e-5, "query projections")
        for (k, (ours, expected)) in zip(model.encoderQuery.batchNormStatistics, copy.encoderQuery.batchNormStatistics).enumerated() {
            // The copy's statistics went through both halves; group 0's update is the first.
            XCTAssertEqual(ours.batchesTracked, 1)
            XCTAssertEqual(expected.batchesTracked, 2)
            if k == 0 { XCTAssertNotEqual(ours.runningMean.scalars, expected.runningMean.scalars, "bn1 kept group 0's update alone") }
        }
        // The keys: the grouped key encoder on the permuted crops, put back in the crops' order.
        copy.momentumUpdate()
        let permuted = Tensor.concat(permutation.map { key.sliced(axis: 0, $0..<($0 + 1)) }, axis: 0)
        let shuffledKeys = withoutGradients { BatchNormGroups.split(into: 2) { copy.encoderKey(permuted, training: true) }.l2Normalized().scalars }
        var inverse = [Int](repeating: 0, count: 8)
        for (position, j) in permutation.enumerated() { inverse[j] = position }
        let expectedKeys = (0..<8).flatMap { j in shuffledKeys[(inverse[j] * 16)..<((inverse[j] + 1) * 16)] }
        assertAllClose(output.key.scalars, expectedKeys, rtol: 1e-4, atol: 1e-5, "un-permuted keys")

        // Without the permutation the keys' groups are other images: other keys.
        let unshuffled = MoCo(.resnet18, dimension: 16, queueSize: 16, momentum: 0.99, seed: 9)
        unshuffled.batchNormGroups = 2
        let plain = unshuffled.forward(query: query, key: key, subclassLabels: labels, classLabels: labels, training: true)
        XCTAssertGreaterThan(zip(plain.key.scalars, output.key.scalars).map { abs($0 - $1) }.max()!, 1e-3, "the permutation changes the keys")
        assertAllClose(plain.query.scalars, output.query.scalars, rtol: 1e-6, atol: 1e-7, "the query does not depend on the key permutation")
    }

    func testMoCoOneGroupIsTheForwardAsBefore() {
        let (query, key) = crops()
        let labels = [0, 1, 2, 3, 0, 1, 2, 3]
        let a = MoCo(.resnet18, dimension: 16, queueSize: 16, seed: 4), b = MoCo(.resnet18, dimension: 16, queueSize: 16, seed: 4)
        let plain = a.forward(query: query, key: key, subclassLabels: labels, classLabels: labels)
        let one = b.forward(query: query, key: key, subclassLabels: labels, classLabels: labels, training: true,
                            keyPermutation: MoCo.keyPermutation(count: 8, seed: 1, epoch: 1, step: 0))
        XCTAssertEqual(plain.logits.scalars.map(\.bitPattern), one.logits.scalars.map(\.bitPattern), "one group ignores the permutation")
    }

    // MARK: Plan

    func testPlanRefusesBatchesTheGroupsDoNotSplitNamingTheKey() {
        let cases: [(String, String)] = [
            ("batch_size: 8\nbatch_norm_groups: 3", "batch_norm_groups 3 does not split the 16 rows of a batch (2 views of batch_size 8)"),
            ("batch_size: 4\nbatch_norm_groups: 8", "batch_norm_groups 8 does not split the 8 rows"),
            ("architecture: resnet18\nbatch_size: 100\nqueue_size: 1000\nbatch_norm_groups: 8",
             "batch_norm_groups 8 does not split the 100 rows of a batch (batch_size 100)"),
            ("architecture: resnet18\nbatch_size: 8\nqueue_size: 64\nbatch_norm_groups: 8", "into groups of at least 2"),
            ("batch_size: 8\nbatch_norm_groups: 2\nsync_batchnorm: true", "batch_norm_groups 2 and sync_batchnorm do not combine"),
        ]
        for (encoder, message) in cases {
            XCTAssertThrowsError(try planFirstStage(firstStageRecipe(encoder: encoder)), encoder) { error in
                let text = "\(error)"
                XCTAssert(text.contains(message), text)
                XCTAssert(text.contains("stages.encoder"), text)
            }
        }
        XCTAssertNoThrow(try planFirstStage(firstStageRecipe(encoder: "architecture: resnet50\nbatch_size: 256\nbatch_norm_groups: 8")))
        XCTAssertNoThrow(try planFirstStage(firstStageRecipe(encoder: "batch_size: 8\nbatch_norm_groups: 2")))
    }

    func testTheDefaultKeepsTheHashAndTwoGroupsMoveIt() throws {
        func hash(_ encoder: String) throws -> String { try planFirstStage(firstStageRecipe(encoder: encoder)).stage(named: "encoder")!.hash }
        let base = try hash("batch_size: 8")
        XCTAssertEqual(try hash("batch_size: 8\nbatch_norm_groups: 1"), base)
        XCTAssertNotEqual(try hash("batch_size: 8\nbatch_norm_groups: 2"), base)
    }

    func testTheLastPartialBatchMustSplitTooUnlessDropped() throws {
        // 21 images in batches of 8: the last batch has 5 images, 10 rows, which 4 groups do not split.
        let folder = try temporaryFolder(self)
        let plan = try planFirstStage(firstStageRecipe(clustering: tinyClustering, encoder: tinyEncoder + "\nbatch_norm_groups: 4"))
        let context = try encoderContext(plan: plan, data: tinyDataArtifact(), folder: folder)
        XCTAssertThrowsError(try EncoderStage.run(context)) { error in
            let text = "\(error)"
            XCTAssert(text.contains("batch_norm_groups 4 does not split the 10 rows (2 views) of the last partial batch of 5 images"), text)
            XCTAssert(text.contains("drop_last: true"), text)
        }
    }
}
