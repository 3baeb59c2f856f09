import XCTest
import PipelineDSL
import TestSupport
import Datasets
@testable import Stages

/// The shipped recipes validate and plan against the real stage kinds, without their data.
final class RecipeTests: XCTestCase {
    static let recipesFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("recipes")

    /// recipes/imagenet_lt.yaml planned without its data (the data stage cannot run; the others'
    /// settings resolve): what the ImageNet-LT replays take their settings from.
    static func imageNetLTPlanWithoutData() throws -> Plan {
        var registry = StageRegistry()
        Stages.registerAll(in: &registry)
        let url = recipesFolder.appendingPathComponent("imagenet_lt.yaml")
        let recipe = try Planner.recipe(data: Data(contentsOf: url), file: url.path,
                                        overrides: [try Override.parse("stages.data.root=/nonexistent/ImageNet_LT")], registry: registry)
        return try Planner.plan(recipe, registry: registry)
    }

    private var registry: StageRegistry {
        var registry = StageRegistry()
        Stages.registerAll(in: &registry)
        return registry
    }

    private func plan(_ name: String, _ overrides: [String] = []) throws -> Plan {
        let url = Self.recipesFolder.appendingPathComponent(name)
        let recipe = try Planner.recipe(data: Data(contentsOf: url), file: url.path,
                                        overrides: overrides.map { try Override.parse($0) }, registry: registry)
        return try Planner.plan(recipe, registry: registry)
    }

    func testEveryRecipeIsTested() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.recipesFolder.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertEqual(files, ["cifar100_lt.yaml", "cifar10_lt.yaml", "fashion_mnist_lt.yaml", "imagenet_lt.yaml", "imagenet_lt_smoke.yaml", "smoke.yaml"])
    }

    /// The CIFAR recipes plan with their data folder empty: with `download: true` the official
    /// archive's MD5 stands in for the missing files' digests.
    func testCIFARRecipesPlanWithoutTheirData() throws {
        let empty = try temporaryFolder(self).path
        for name in ["cifar100_lt.yaml", "cifar10_lt.yaml"] {
            let plan = try plan(name, ["stages.data.root=\(empty)"])
            XCTAssertEqual(plan.stages.map(\.kind.name).sorted(),
                           ["augmentation", "classifier", "clustering", "contrastive_loss", "dataset", "encoder", "evaluation", "imbalance"], name)
            XCTAssertEqual(plan.stage(named: "classifier")?.spec.parameters.string("method"), "ldam_drw")
            XCTAssertEqual(plan.stage(named: "encoder")?.spec.parameters.int("epochs"), 1000)
        }
    }

    /// Fashion-MNIST is installed on the machine (`dataset-fashion-mnist`); both recipes plan and
    /// read the same files, and the smoke recipe differs from the main one.
    func testFashionMNISTRecipesPlan() throws {
        let main = try plan("fashion_mnist_lt.yaml"), smoke = try plan("smoke.yaml")
        XCTAssertEqual(main.stage(named: "classifier")?.spec.parameters.bool("augment"), false)
        XCTAssertEqual(main.stage(named: "lt")?.spec.parameters.double("factor"), 0.01)
        XCTAssertEqual(main.stage(named: "encoder")?.spec.parameters.int("depth"), 32)
        XCTAssertNotEqual(main.stage(named: "encoder")?.hash, smoke.stage(named: "encoder")?.hash)
    }

    /// ImageNet-LT without its files plans (as the CIFAR recipes do), the data stage marked as
    /// unable to run here with what to put where, and a run is refused with that sentence; with
    /// the files (a sample tree under the expected names) the recipe plans with the reference's
    /// settings, and its ResNet-50 encoder at batch 256 is estimated beyond this kind of machine,
    /// so a run would be refused naming what to change.
    func testImageNetRecipePlansWithoutItsDataAndSaysWhereItGoes() throws {
        let folder = try temporaryFolder(self)
        let missing = try plan("imagenet_lt.yaml", ["stages.data.root=\(folder.path)/missing"])
        let reason = try XCTUnwrap(missing.stage(named: "data")?.unavailable)
        for part in ["ImageNet_LT_train.txt", "ImageNet_LT_test.txt", "\(folder.path)/missing", "root"] {
            XCTAssertTrue(reason.contains(part), "'\(part)' missing from: \(reason)")
        }
        XCTAssertNil(missing.stage(named: "encoder")?.unavailable)
        let refusals = missing.refusals(memoryLimit: 1 << 50) { _ in false }
        XCTAssertEqual(refusals.map(\.keyPath), ["stages.data"])
        let root = folder.appendingPathComponent("ImageNet_LT").path
        let splits = try SampleImageTree.writeImageNetLT(to: root, classes: 3, largest: 6, smallest: 2, testPerClass: 1)
        try FileManager.default.copyItem(atPath: splits.train, toPath: root + "/ImageNet_LT_train.txt")
        try FileManager.default.copyItem(atPath: splits.test, toPath: root + "/ImageNet_LT_test.txt")
        let plan = try plan("imagenet_lt.yaml", ["stages.data.root=\(root)"])
        let encoder = try XCTUnwrap(plan.stage(named: "encoder"))
        XCTAssertEqual(encoder.spec.parameters.string("architecture"), "resnet50")
        XCTAssertEqual(encoder.spec.parameters.int("queue_size"), 65536)
        XCTAssertEqual(plan.stage(named: "classifier")?.spec.parameters.string("method"), "cb")
        let estimate = try XCTUnwrap(encoder.memory)
        XCTAssertGreaterThan(estimate.bytes, 24 << 30, estimate.breakdown)
        let refused = plan.memoryDiagnostics(limit: 24 << 30) { _ in false }
        XCTAssertTrue(refused.contains { $0.keyPath == "stages.encoder" && $0.message.contains("batch_size") }, "\(refused)")
        // A quarter of the batch fits; four ranks with the whole batch do too.
        let smaller = try self.plan("imagenet_lt.yaml", ["stages.data.root=\(root)", "stages.encoder.batch_size=64"])
        XCTAssertLessThan(try XCTUnwrap(smaller.stage(named: "encoder")?.memory).bytes, 12 << 30)
    }

    /// `Stages.defaultRecipe` is the Fashion-MNIST recipe, word for word.
    func testDefaultRecipeIsTheFashionMNISTRecipe() throws {
        let recipe = try XCTUnwrap(Stages.defaultRecipe)
        XCTAssertEqual(recipe.name, "fashion_mnist_lt")
        let file = try String(contentsOf: Self.recipesFolder.appendingPathComponent("fashion_mnist_lt.yaml"), encoding: .utf8)
        XCTAssertEqual(recipe.yaml, file, "Sources/Stages/Kinds/DefaultRecipe.swift differs from recipes/fashion_mnist_lt.yaml; copy the file into it")
    }

    /// Every recipe number that sizes tensors or memory has an upper bound: at the bounds the plan's
    /// memory arithmetic stays finite (no overflow trap), and past one the recipe error names the
    /// key and the range.
    func testHugeValuesPlanAtTheLimitsAndAreRecipeErrorsPastThem() throws {
        let folder = try temporaryFolder(self).path
        let atLimits = ["stages.data.root=\(folder)/missing", "stages.encoder.batch_size=\(RecipeLimits.batch)",
                        "stages.encoder.queue_size=\(RecipeLimits.queue)", "stages.encoder.projection_dim=\(RecipeLimits.projection)",
                        "stages.views.size=\(RecipeLimits.side)", "stages.encoder.epochs=\(RecipeLimits.epochs)"]
        let moco = try plan("imagenet_lt.yaml", atLimits)
        let memory = try XCTUnwrap(moco.stage(named: "encoder")?.memory)
        XCTAssertGreaterThan(memory.bytes, 1 << 50, "an absurd setting reads as absurdly large, not as a wrapped-around number")
        let cifar = try plan("fashion_mnist_lt.yaml", ["stages.encoder.depth=110", "stages.encoder.batch_size=\(RecipeLimits.batch)",
                                                       "stages.views.size=\(RecipeLimits.side)"])
        XCTAssertGreaterThan(try XCTUnwrap(cifar.stage(named: "encoder")?.memory).bytes, 1 << 50)
        for (key, value) in [("stages.encoder.batch_size", "\(RecipeLimits.batch + 1)"), ("stages.encoder.queue_size", "9223372036854775807"),
                             ("stages.encoder.projection_dim", "\(RecipeLimits.projection + 1)"), ("stages.views.size", "\(RecipeLimits.side + 1)"),
                             ("stages.encoder.epochs", "\(RecipeLimits.epochs + 1)")] {
            XCTAssertThrowsError(try self.plan("imagenet_lt.yaml", ["stages.data.root=\(folder)/missing", "\(key)=\(value)"]), key) { error in
                XCTAssert("\(error)".contains(key) && "\(error)".contains("in ["), "\(error)")
            }
        }
    }
}
