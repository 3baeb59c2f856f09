import Foundation
import PipelineDSL
import XCTest

/// The hash covers kind, version, parameters after defaults, input hashes and seed — nothing else.
final class HashStabilityTests: XCTestCase {
    private func hashes(_ plan: Plan) -> [String: String] {
        Dictionary(uniqueKeysWithValues: plan.stages.map { ($0.name, $0.hash) })
    }

    func testReorderedKeysCommentsAndWrittenDefaultsKeepHashes() throws {
        let base = try hashes(plan(sampleRecipe))
        let rewritten = """
            # The same recipe: keys reordered, comments, flow style, defaults written out.
            stages:
              other: {inputs: [b], kind: test_sum, offset: 0.0}   # offset is the default
              total:
                inputs: [a, b, cfg]
                kind: test_sum
              cfg:
                limits: {ceiling: 1000000, depth: 2}
                weights: [1, 1.0]
                scale: 2.0
                kind: test_config
                mode: plain
              b: {value: 5.0, kind: test_source}
              a:
                value: 2
                kind: test_source
            device: cuda
            seed: 7
            name: renamed
            """
        XCTAssertEqual(try hashes(plan(rewritten)), base)
    }

    func testInputOrderAcrossSlotsDoesNotMatterWithinASlotItDoes() throws {
        let base = try hashes(plan(sampleRecipe))
        let slotsSwapped = try hashes(plan(sampleRecipe, overrides: ["stages.total.inputs=[cfg, a, b]"]))
        XCTAssertEqual(slotsSwapped["total"], base["total"])
        let valuesSwapped = try hashes(plan(sampleRecipe, overrides: ["stages.total.inputs=[b, a, cfg]"]))
        XCTAssertNotEqual(valuesSwapped["total"], base["total"])
    }

    func testRenamingAStageKeepsItsHash() throws {
        let base = try hashes(plan(sampleRecipe))
        let renamed = sampleRecipe.replacingOccurrences(of: "  a:\n", with: "  source_a:\n")
            .replacingOccurrences(of: "inputs: [a, b, cfg]", with: "inputs: [source_a, b, cfg]")
        let after = try hashes(plan(renamed))
        XCTAssertEqual(after["source_a"], base["a"])
        XCTAssertEqual(after["total"], base["total"])
    }

    func testChangedParameterChangesOnlyTheStageAndItsDescendants() throws {
        let base = try hashes(plan(sampleRecipe))
        let changed = try hashes(plan(sampleRecipe, overrides: ["stages.a.value=3"]))
        XCTAssertNotEqual(changed["a"], base["a"])
        XCTAssertNotEqual(changed["total"], base["total"])
        XCTAssertEqual(changed["b"], base["b"])
        XCTAssertEqual(changed["cfg"], base["cfg"])
        XCTAssertEqual(changed["other"], base["other"])
        let light = try hashes(plan(sampleRecipe, overrides: ["stages.cfg.limits.depth=3"]))
        XCTAssertNotEqual(light["cfg"], base["cfg"])
        XCTAssertNotEqual(light["total"], base["total"])
        XCTAssertEqual(light["a"], base["a"])
        XCTAssertEqual(light["other"], base["other"])
    }

    func testSeedEntersOnlyKindsThatUseIt() throws {
        let base = try hashes(plan(sampleRecipe))
        let reseeded = try hashes(plan(sampleRecipe, overrides: ["seed=8"]))
        XCTAssertNotEqual(reseeded["a"], base["a"])
        XCTAssertEqual(reseeded["cfg"], base["cfg"], "test_config is light and declares usesSeed: false")
    }

    func testHashIsSHA256OfCanonicalJSON() throws {
        let stage = try plan(sampleRecipe).stage(named: "a")!
        XCTAssertEqual(stage.hashInput, #"{"inputs":[],"kind":"test_source","params":{"value":2.0},"seed":7,"version":1}"#)
        XCTAssertEqual(stage.hash, Planner.sha256Hex(stage.hashInput))
        XCTAssertEqual(Planner.sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func testExtraHashMaterialAndVersionEnterTheHash() throws {
        var registry = testRegistry()
        var files = TestStageKinds.source
        files.name = "file_source"
        files.hashMaterial = { parameters in "digest-of-\(parameters.double("value"))" }
        registry.register(files)
        let text = "name: x\nstages:\n  a: {kind: file_source, value: 1}\n"
        let first = try Planner.plan(Planner.recipe(text: text, file: "x.yaml", registry: registry), registry: registry)
        XCTAssertTrue(first.stages[0].hashInput.contains(#""extra":"digest-of-1.0""#))
        var bumped = StageRegistry()
        var newer = files
        newer.version = 2
        bumped.register(newer)
        let second = try Planner.plan(Planner.recipe(text: text, file: "x.yaml", registry: bumped), registry: bumped)
        XCTAssertNotEqual(first.stages[0].hash, second.stages[0].hash)
    }

    func testMergeKeysShareSettings() throws {
        let text = """
            name: merged
            seed: 7
            defaults: &common {kind: test_source, value: 5}
            stages:
              a: {<<: *common, value: 2}
              b: {<<: *common}
            """
        // `defaults` is not a recipe key, so share through a stage instead.
        XCTAssertTrue(diagnostics(text).first?.contains("defaults: unknown key") == true)
        let shared = """
            name: merged
            seed: 7
            stages:
              b: &common {kind: test_source, value: 5}
              a: {<<: *common, value: 2}
            """
        let mergedPlan = try plan(shared)
        let base = try hashes(plan(sampleRecipe))
        XCTAssertEqual(mergedPlan.stage(named: "a")?.hash, base["a"])
        XCTAssertEqual(mergedPlan.stage(named: "b")?.hash, base["b"])
        XCTAssertEqual(diagnostics("name: x\nstages:\n  a: {<<: 3, kind: test_source}\n"),
                       ["recipe.yaml:3:11: error: <<: expected a mapping or a list of mappings to merge, found a scalar"])
    }

    func testTopologicalOrder() throws {
        let text = """
            name: order
            stages:
              total: {kind: test_sum, inputs: [mid, a]}
              mid: {kind: test_sum, inputs: [a]}
              a: {kind: test_source}
            """
        XCTAssertEqual(try plan(text).stages.map(\.name), ["a", "mid", "total"])
    }

    func testResolvedRecipeReadsBackToTheSameHashes() throws {
        let original = try plan(sampleRecipe, overrides: ["+stages.cfg.note=hello \"world\"", "stages.cfg.tags=[x, 'y z']"])
        let text = RecipeWriter.yaml(original.recipe, registry: testRegistry())
        XCTAssertEqual(try hashes(plan(text)), hashes(original))
        XCTAssertTrue(text.contains("    note: \"hello \\\"world\\\"\"\n"), text)
    }
}

/// `device: cuda:N` names the N-th CUDA GPU; other spellings are refused with the list.
final class DeviceKeyTests: XCTestCase {
    private func hashes(_ plan: Plan) -> [String: String] {
        Dictionary(uniqueKeysWithValues: plan.stages.map { ($0.name, $0.hash) })
    }

    func testCudaWithAnOrdinalIsAcceptedAndKeptOutOfTheHash() throws {
        let base = try hashes(plan(sampleRecipe))
        for device in ["cuda:0", "cuda:1", "cuda:63"] {
            let recipe = sampleRecipe + "\ndevice: \(device)\n"
            let planned = try plan(recipe)
            XCTAssertEqual(planned.recipe.device, device)
            XCTAssertEqual(hashes(planned), base, "the device stays out of the hash")
        }
    }

    func testAMalformedOrdinalIsRefusedNamingTheKeyAndTheChoices() {
        for device in ["cuda:", "cuda:-1", "cuda:64", "cuda:01", "cuda:x", "CUDA:1", "cuda:1:2"] {
            let messages = diagnostics(sampleRecipe + "\ndevice: '\(device)'\n")
            XCTAssertEqual(messages.count, 1, "\(device): \(messages)")
            XCTAssertTrue(messages.first?.contains("device: expected one of auto, cpu, cuda, opencl, opencl:cpu, cuda:N") ?? false,
                          "\(device): \(messages)")
        }
    }
}
