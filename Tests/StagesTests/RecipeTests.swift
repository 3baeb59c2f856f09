import XCTest
import PipelineDSL
import TestSupport
@testable import Stages

/// The shipped recipes validate and plan against the real stage kinds, without their data.
final class RecipeTests: XCTestCase {
    static let recipesFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("recipes")

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
        XCTAssertEqual(files, ["cifar100_lt.yaml", "cifar10_lt.yaml", "fashion_mnist_lt.yaml", "imagenet_lt.yaml", "smoke.yaml"])
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

    /// ImageNet-LT needs the MoCo ResNet-50 encoder, which is not built: validation says so
    /// (it must not fall back to a CIFAR encoder silently).
    func testImageNetRecipeFailsValidationSayingWhatIsMissing() throws {
        XCTAssertThrowsError(try plan("imagenet_lt.yaml")) { error in
            guard let error = error as? RecipeError else { return XCTFail("expected a RecipeError, got \(error)") }
            XCTAssertTrue(error.diagnostics.contains { $0.keyPath == "stages.encoder" && $0.message.contains("not built yet") },
                          "\(error)")
        }
    }

    /// `Stages.defaultRecipe` is the Fashion-MNIST recipe, word for word.
    func testDefaultRecipeIsTheFashionMNISTRecipe() throws {
        let recipe = try XCTUnwrap(Stages.defaultRecipe)
        XCTAssertEqual(recipe.name, "fashion_mnist_lt")
        let file = try String(contentsOf: Self.recipesFolder.appendingPathComponent("fashion_mnist_lt.yaml"), encoding: .utf8)
        XCTAssertEqual(recipe.yaml, file, "Sources/Stages/DefaultRecipe.swift differs from recipes/fashion_mnist_lt.yaml; copy the file into it")
    }
}
