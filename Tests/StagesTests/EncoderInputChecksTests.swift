import XCTest
import PipelineDSL
@testable import Stages

/// The encoder's plan-time checks against its clustering and loss inputs: a recipe that would
/// never train the loss it names, or names a loss its encoder does not train with, is refused
/// before anything runs, with the key to change.
final class EncoderInputChecksTests: XCTestCase {
    private func refusal(clustering: String = "", loss: String = "", encoder: String) -> String? {
        do {
            _ = try planFirstStage(firstStageRecipe(clustering: clustering, loss: loss, encoder: encoder))
            return nil
        } catch let error as RecipeError {
            return error.diagnostics.map { "\($0.keyPath): \($0.message)" }.joined(separator: "\n")
        } catch {
            return "not a recipe error: \(error)"
        }
    }

    func testAWarmUpAsLongAsTheRunIsRefusedForTheSBCLVariants() throws {
        for variant in ["rank", "ccl"] {
            // CIFAR ResNet: SupCon for epochs 1–4 of 4 would be the whole run.
            let cifar = try XCTUnwrap(refusal(clustering: "warmup_epochs: 4", loss: "variant: \(variant)", encoder: "depth: 20\nepochs: 4"))
            XCTAssertTrue(cifar.hasPrefix("stages.clusters.warmup_epochs: warmup_epochs 4 is not below stages.encoder.epochs 4"), cifar)
            XCTAssertTrue(cifar.contains("the \(variant) loss would never train") && cifar.contains("stages.loss.variant=supcon"), cifar)
            // MoCo: KCL only; the message gives the reference's half and the KCL baseline.
            let moco = try XCTUnwrap(refusal(clustering: "warmup_epochs: 12", loss: "variant: \(variant)",
                                             encoder: "architecture: resnet18\nepochs: 10\nbatch_size: 64"))
            XCTAssertTrue(moco.contains("warmup_epochs 12 is not below stages.encoder.epochs 10"), moco)
            XCTAssertTrue(moco.contains("the reference's half, 5") && moco.contains("stages.loss.variant=kcl"), moco)
            // One epoch less of warm-up than the run: SBCL trains in the last epoch, accepted.
            XCTAssertNil(refusal(clustering: "warmup_epochs: 3", loss: "variant: \(variant)", encoder: "depth: 20\nepochs: 4"))
            XCTAssertNil(refusal(clustering: "warmup_epochs: 0", loss: "variant: \(variant)", encoder: "depth: 20\nepochs: 1"))
        }
        // The baselines have no SBCL half: any warm-up is fine.
        XCTAssertNil(refusal(clustering: "warmup_epochs: 10", loss: "variant: supcon", encoder: "depth: 20\nepochs: 4"))
        XCTAssertNil(refusal(clustering: "warmup_epochs: 10", loss: "variant: ce", encoder: "depth: 20\nepochs: 4"))
        XCTAssertNil(refusal(clustering: "warmup_epochs: 10", loss: "variant: kcl", encoder: "architecture: resnet18\nepochs: 4\nbatch_size: 64"))
    }

    func testEachEncoderFamilyIsRefusedTheOtherFamilysLosses() throws {
        for variant in ["supcon", "ce"] {
            let message = try XCTUnwrap(refusal(loss: "variant: \(variant)", encoder: "architecture: resnet50\nbatch_size: 256"))
            XCTAssertTrue(message.hasPrefix("stages.loss.variant: \(variant) trains a CIFAR ResNet encoder; the resnet50 encoder 'encoder' is MoCo v2"), message)
        }
        let kcl = try XCTUnwrap(refusal(loss: "variant: kcl", encoder: "depth: 20"))
        XCTAssertTrue(kcl.hasPrefix("stages.loss.variant: kcl (KCL in every epoch) trains a MoCo encoder"), kcl)
    }

    /// `kcl` is KCL in every epoch: the losses say so, and have no second-half loss to switch to.
    func testTheKCLVariantHasNoSecondHalf() {
        let kcl = ContrastiveLossStage.Losses(ContrastiveLossStage.Settings.defaults.with { $0.variant = .kcl })
        XCTAssertTrue(kcl.kclThroughout)
        XCTAssertNil(kcl.moco)
        let rank = ContrastiveLossStage.Losses(ContrastiveLossStage.Settings.defaults)
        XCTAssertFalse(rank.kclThroughout)
        XCTAssertNotNil(rank.moco)
    }
}
