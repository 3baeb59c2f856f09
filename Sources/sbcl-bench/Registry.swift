/// The benchmarks `sbcl-bench` knows, by subcommand name. Add a line per benchmark file.
func registeredBenchmarks() -> [String: ([String]) throws -> Void] {
    [
        "step": runStepOrMoCoBench,
        "infer": runInferBench,
        "loader": runLoaderBench,
        "jpeg-augment": runJPEGAugmentBench,
        "conv": runConvBench,
        "loss": runLossBench,
        "kmeans": runKMeansBench,
        "recluster": runReclusterBench,
    ]
}
