// swift-tools-version:6.0
import PackageDescription

/// Numeric targets compile in Swift 5 language mode: their kernels hand raw buffer pointers to
/// worker threads, which Swift 6's strict sendability checking rejects without adding safety.
let numericSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v5),
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "sbcl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sbcl-run", targets: ["sbcl-run"]),
        .executable(name: "sbcl-bench", targets: ["sbcl-bench"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "PipelineDSL", targets: ["PipelineDSL"]),
        .library(name: "Stages", targets: ["Stages"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", exact: "5.0.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    ],
    targets: [
        // C libraries from Debian's -dev packages.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),

        // The AVX2 + FMA inner loops of the convolution kernels, picked at run time (see its header).
        .target(name: "CKernels"),

        // Open MPI's C API, loaded at run time with dlopen (see its header): no link-time MPI.
        .target(name: "CMPI", linkerSettings: [.linkedLibrary("dl")]),

        // OpenCL and CLBlast, loaded at run time with dlopen (see its header): no link-time OpenCL.
        .target(name: "COpenCL", linkerSettings: [.linkedLibrary("dl")]),
        // The CUDA driver, NVRTC, cuBLAS and cuDNN, loaded at run time with dlopen (see its header).
        .target(name: "CCUDA", linkerSettings: [.linkedLibrary("dl")]),
        // The device kernels' text (one dialect for OpenCL and, after a prelude, NVRTC).
        .target(name: "DeviceKernelSource", dependencies: ["Engine"]),

        // Tensors, backends, autodiff, layers, optimisers, models, tensor file formats.
        .target(name: "Engine", dependencies: ["CBLAS", "CKernels"], swiftSettings: numericSettings),
        // The GPU backend on OpenCL (kernels in OpenCL C, matrix products through CLBlast),
        // registered with the engine's `DeviceSelection` by the executables.
        .target(name: "OpenCLBackend", dependencies: ["COpenCL", "Engine", "DeviceKernelSource"], swiftSettings: numericSettings),
        // The GPU backend on CUDA (the same kernels through NVRTC, matrix products through cuBLAS),
        // registered with the engine's `DeviceSelection` by the executables.
        .target(name: "CUDABackend", dependencies: ["CCUDA", "Engine", "DeviceKernelSource"], swiftSettings: numericSettings),
        // Recipes, validation, planning, hashing, the cache and the executor. No tensors.
        .target(
            name: "PipelineDSL",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // Data-parallel ranks over MPI: the engine's `Communicator` and the executor's
        // `RankCoordinator`, entered only when a launcher (mpirun, srun) started the process.
        .target(name: "MPITransport", dependencies: ["CMPI", "Engine", "PipelineDSL"]),
        // Data set readers, the long-tail selection, augmentations and the batch loader.
        .target(name: "Datasets", dependencies: ["Engine", "CJPEG", "CZlib"], swiftSettings: numericSettings),
        // Reading run folders back: HTML reports, run comparison, TensorBoard event files. Needs
        // only the pipeline's types (records, JSON), so it builds without the engine.
        .target(name: "Reporting", dependencies: ["PipelineDSL"]),
        // Running a sweep elsewhere: the sweep folder, and Slurm job arrays (sbatch, squeue, sacct).
        .target(name: "Launchers", dependencies: ["PipelineDSL", "Reporting"]),
        // The stage kinds: joins the pipeline to the engine and the data.
        .target(name: "Stages", dependencies: ["Engine", "PipelineDSL", "Datasets"], swiftSettings: numericSettings),
        // A trained model written for other runtimes: ONNX (through swift-protobuf and the
        // committed Swift types of onnx.proto3). A target of its own so that only the executable,
        // not the training code, depends on protobuf.
        .target(
            name: "ModelExport",
            dependencies: ["Engine", "Stages", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .executableTarget(
            name: "sbcl-run",
            dependencies: ["Stages", "PipelineDSL", "Engine", "Datasets", "OpenCLBackend", "CUDABackend", "Reporting", "MPITransport", "Launchers", "ModelExport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(
            name: "sbcl-bench",
            dependencies: ["Stages", "Engine", "OpenCLBackend", "CUDABackend", "Datasets", "MPITransport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: numericSettings),

        // Shared test helpers: allClose, finite-difference gradient checks, temporary folders.
        .target(name: "TestSupport", dependencies: ["Engine"], path: "Tests/TestSupport",
                swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "TestSupport"],
                    resources: [.copy("Fixtures")], swiftSettings: [.swiftLanguageMode(.v5)]),
        // The OpenCL kernels against the CPU backend, on PoCL where no GPU is present.
        .testTarget(name: "OpenCLBackendTests", dependencies: ["OpenCLBackend", "Engine", "Stages", "Datasets", "PipelineDSL", "TestSupport"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        // The kernels through NVRTC on any machine (no GPU needed), and the CUDA backend against
        // the CPU backend on a GPU (skipped without one).
        .testTarget(name: "CUDABackendTests", dependencies: ["CUDABackend", "CCUDA", "DeviceKernelSource", "Engine", "Stages",
                                                             "Datasets", "PipelineDSL", "TestSupport"],
                    swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "PipelineDSLTests", dependencies: ["PipelineDSL"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "Engine", "TestSupport"],
                    resources: [.copy("Fixtures")], swiftSettings: [.swiftLanguageMode(.v5)]),
        // Runs the built sbcl-run binary as a user would (exit codes, messages, kill/resume, races).
        .testTarget(name: "CLITests", dependencies: ["sbcl-run", "Reporting", "Engine", "Datasets", "Stages", "ModelExport", "TestSupport"], path: "Tests/CLITests"),
        .testTarget(name: "ReportingTests", dependencies: ["Reporting", "PipelineDSL"], resources: [.copy("Fixtures")]),
        // Sweep folders and Slurm job arrays, against a fake sbatch/squeue/sacct on a PATH of their own.
        .testTarget(name: "LaunchersTests", dependencies: ["Launchers", "PipelineDSL"]),
        .testTarget(name: "StagesTests", dependencies: ["Stages", "PipelineDSL", "Engine", "Datasets", "TestSupport"],
                    resources: [.copy("Fixtures"), .copy("linear_stage")], swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)
