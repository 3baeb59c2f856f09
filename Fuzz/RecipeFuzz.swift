// libFuzzer entry for the recipe loader (YAML text and override arguments → resolved recipe →
// plan → resolved YAML again), compiled by scripts/fuzz.sh together with the PipelineDSL sources
// (one module, no package build; Yams compiled beside it with the same instrumentation, and
// Fuzz/CryptoStub.swift in place of swift-crypto: the hashes' values do not matter here).
// Every input must end in a plan or a thrown error; a trap, a sanitizer report or a timeout is
// a finding.
//
// Input: the recipe's bytes, then optionally a 0 byte followed by override arguments, one a
// line (`stages.a.value=3`, `~stages.b`, `+stages.c.kind=test_source`).
import Foundation

private let registry: StageRegistry = {
    var registry = StageRegistry()
    TestStageKinds.register(in: &registry)
    return registry
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecipe(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let cut = bytes.firstIndex(of: 0) ?? bytes.count
    let recipeBytes = Data(bytes[..<cut])
    let overrideText = cut < bytes.count ? String(decoding: bytes[(cut + 1)...], as: UTF8.self) : ""
    var overrides: [Override] = []
    for line in overrideText.split(separator: "\n").prefix(16) {
        if let override = try? Override.parse(String(line)) { overrides.append(override) }
    }
    _ = try? Sweep.parse(overrideText.split(separator: "\n").prefix(8).map(String.init))
    guard let recipe = try? Planner.recipe(data: recipeBytes, file: "fuzz.yaml", overrides: overrides, registry: registry) else {
        return 0
    }
    guard let plan = try? Planner.plan(recipe, registry: registry) else { return 0 }
    // The resolved recipe a run folder keeps must load again into the same plan.
    let written = RecipeWriter.yaml(recipe, registry: registry)
    guard let again = try? Planner.recipe(text: written, file: "resolved.yaml", registry: registry),
          let replanned = try? Planner.plan(again, registry: registry) else {
        fatalError("the resolved recipe does not load again:\n\(written)")
    }
    if replanned.stages.map(\.hash) != plan.stages.map(\.hash) {
        fatalError("the resolved recipe plans to other hashes:\n\(written)")
    }
    _ = PlanReport.json(plan) { _ in .pending }.prettyJSON()
    return 0
}
