import PipelineDSL

extension EncoderStage {
    /// `kind` with `validateWithInputs` attached (the settings-table initialiser has no slot for it).
    static func withInputChecks(_ kind: StageKind) -> StageKind {
        var kind = kind
        kind.validateWithInputs = { try validateWithInputs($0) }
        return kind
    }

    /// Plan-time checks of an encoder against its `clustering` and `loss` inputs, so that a recipe
    /// which would not train what it names is refused before anything runs:
    /// - a MoCo encoder trains with KCL, then `rank` or `ccl` on the queue (or `kcl` throughout);
    ///   `supcon` and `ce` are CIFAR-encoder losses, and `kcl` a MoCo one;
    /// - with `rank` or `ccl`, the clustering warm-up must end before the last epoch: otherwise the
    ///   SBCL loss never trains and the run is silently the warm-up loss alone (the reference always
    ///   switches, at half the epochs for MoCo). The baselines say so by their variant instead
    ///   (`supcon`, `kcl`).
    static func validateWithInputs(_ query: MemoryQuery) throws {
        guard let lossSpec = query.input("loss"), let clusteringSpec = query.input("clustering") else { return }
        let settings = Settings(query.spec.parameters)
        let variant = ContrastiveLossStage.Settings(lossSpec.parameters).variant
        let moco = settings.architecture.imageNet != nil
        let variantKey = "stages.\(lossSpec.name).variant"
        func refuse(_ spec: StageSpec, _ keyPath: String, _ message: String) -> RecipeError {
            RecipeError([Diagnostic(location: spec.location, keyPath: keyPath, message: message)])
        }
        switch (moco, variant) {
        case (true, .supcon), (true, .ce):
            throw refuse(lossSpec, variantKey, "\(variant.rawValue) trains a CIFAR ResNet encoder; the \(settings.architecture.rawValue) encoder '\(query.spec.name)' is MoCo v2, which trains with KCL and then rank or ccl on the queue, or kcl in every epoch (the KCL baseline)")
        case (false, .kcl):
            throw refuse(lossSpec, variantKey, "kcl (KCL in every epoch) trains a MoCo encoder (architecture resnet18, resnet34 or resnet50); the CIFAR ResNet encoder '\(query.spec.name)' trains with rank, ccl, supcon or ce")
        case (_, .rank), (_, .ccl):
            let warmup = ClusteringStage.Settings(clusteringSpec.parameters).warmupEpochs
            guard warmup >= settings.epochs else { return }
            let baseline = moco ? "kcl" : "supcon"
            let suggestion = moco ? "the reference's half, \(settings.epochs / 2)" : "fewer than \(settings.epochs)"
            throw refuse(clusteringSpec, "stages.\(clusteringSpec.name).warmup_epochs",
                         "warmup_epochs \(warmup) is not below stages.\(query.spec.name).epochs \(settings.epochs), so the \(variant.rawValue) loss would never train; "
                         + "set warmup_epochs to \(suggestion), or \(variantKey)=\(baseline) for the \(moco ? "KCL" : "SupCon") baseline")
        default:
            return
        }
    }
}
