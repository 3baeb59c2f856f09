import Foundation
import PipelineDSL
import Engine
import Datasets

/// The `encoder` stage kind: SBCL's first stage — a CIFAR ResNet with a projection head trained
/// with SupCon during the warm-up, then with the SBCL loss on subclasses that are recomputed every
/// `every` epochs (docs/method.md, `EncoderTraining`); or a torchvision ResNet in MoCo v2 trained with
/// KCL, then SBCL on the queue (docs/method.md, "ImageNet-LT"; `MoCoTraining`).
///
/// Inputs (by slot): `data` (a `dataset` or `imbalance` stage), `augmentation`, `clustering` and
/// `loss` (a `contrastive_loss` stage). Artifact: `EncoderArtifact` (`encoder.safetensors`,
/// `encoder.json`). Checkpoints (`EncoderCheckpoint`) go to the stage's checkpoint folder every
/// `checkpoint_every` epochs and after the last one; a killed run resumes from the latest.
public enum EncoderStage {
    /// The kind's name in recipes.
    public static let name = "encoder"

    /// Set this environment variable to N to make the stage stop with an error right after it has
    /// finished epoch N and written its checkpoint — for tests of resuming through the CLI.
    public static let stopAfterEpochVariable = "SBCL_ENCODER_STOP_AFTER_EPOCH"

    /// The stage kind.
    public static let kind = withInputChecks(StageKind(
        name: name, version: 2,
        summary: "first-stage training: SupCon warm-up, then SBCL with periodic re-clustering",
        settings: Settings.self,
        inputs: [.one("data", of: "dataset", "imbalance"), .one("augmentation", of: AugmentationStage.name),
                 .one("clustering", of: ClusteringStage.name), .one("loss", of: ContrastiveLossStage.name)],
        hashMaterial: { settings in
            guard let url = settings.initialWeightsURL else { return "" }
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw RunError("init_weights: \(url.path) does not exist")
            }
            return "init-weights md5 " + (try SourceDigest.fileMD5(url.path))
        },
        dataParallel: dataParallelism,
        memoryEstimate: { try StageMemory.encoder($0) },
        // The MoCo settings do nothing to a CIFAR ResNet, nor its depth to a torchvision one.
        // Added later: at its default (1, the whole batch) it keeps every existing entry's hash.
        inapplicableParameters: { s in
            let other: Set<String> = s.architecture == .resnetCIFAR ? ["queue_size", "key_momentum", "kcl_positives"] : ["depth"]
            return s.batchNormGroups == 1 ? other.union(["batch_norm_groups"]) : other
        },
        run: { context in try EncoderStage.run(context) }))

    /// The network an encoder stage trains.
    public enum Architecture: String, CaseIterable, Sendable {
        /// He et al.'s CIFAR ResNets, by depth (SimCLR/main.py).
        case resnetCIFAR = "resnet_cifar"
        /// torchvision's ResNets inside MoCo v2 (moco/main.py).
        case resnet18, resnet34, resnet50

        /// The torchvision network of a MoCo encoder; nil for the CIFAR ResNet.
        public var imageNet: ResNetImageNet.Architecture? { ResNetImageNet.Architecture(rawValue: rawValue) }
    }

    /// Whether the learning rate warms up linearly over the first epochs.
    public enum Warmup: String, CaseIterable, Sendable {
        /// When batch_size > 256 (the reference).
        case auto
        case on
        case off
    }

    /// The settings of an `encoder` stage, typed.
    public struct Settings: StageSettings, Equatable {
        /// The network (`architecture`).
        public var architecture = Architecture.resnetCIFAR
        /// The CIFAR ResNet's depth (`depth`).
        public var depth = 0
        /// The projection head's output size (`projection_dim`).
        public var projectionDimension = 0
        /// Training epochs (`epochs`).
        public var epochs = 0
        /// Images per step (`batch_size`).
        public var batchSize = 0
        /// SGD's base learning rate (`learning_rate`).
        public var learningRate = 0.0
        /// SGD momentum (`momentum`).
        public var momentum = 0.0
        /// SGD weight decay (`weight_decay`).
        public var weightDecay = 0.0
        /// The cosine schedule's decay rate (`lr_decay_rate`).
        public var learningRateDecay = 0.0
        /// The learning-rate warm-up (`warmup`).
        public var warmup = Warmup.auto
        /// Epochs between checkpoints (`checkpoint_every`).
        public var checkpointEvery = 0
        /// Images per forward pass when embedding for re-clustering (`cluster_batch_size`).
        public var clusterBatchSize = 0
        /// Whether each epoch's last partial batch is dropped (`drop_last`).
        public var dropLast = false
        /// A file of initial weights; empty: the seed's initialisation.
        public var initialWeights = ""
        /// MoCo: K, the keys in the queue (`queue_size`).
        public var queueSize = 0
        /// MoCo: m of the key encoder's update (`key_momentum`).
        public var keyMomentum = 0.0
        /// MoCo: k of KCL (`kcl_positives`).
        public var kclPositives = 0
        /// Batch norm over the global batch on several ranks (`sync_batchnorm`).
        public var synchronizesBatchNorm = false
        /// Batch norm in G contiguous row groups of each process's batch (`batch_norm_groups`).
        public var batchNormGroups = 1

        public static let unset = Settings()

        public static let fields: [SettingsField<Settings>] = [
            .choice("architecture", \.architecture, default: .resnetCIFAR,
                    doc: "resnet_cifar (He et al.'s CIFAR ResNets, by depth; SimCLR/main.py); resnet18, resnet34, resnet50: torchvision's ResNets inside MoCo v2 (query and momentum key encoders, MLP head, queue; moco/main.py), trained with KCL for the clustering stage's warmup_epochs, then with the SBCL loss on the queue"),
            .int("depth", \.depth, default: 32, range: .closed(20, 110), doc: "CIFAR ResNet depth: 20, 32, 44, 56 or 110"),
            .int("projection_dim", \.projectionDimension, default: 128, range: RecipeLimits.upTo(RecipeLimits.projection, from: 1),
                 doc: "output size of the projection head"),
            .int("epochs", \.epochs, default: 1000, range: RecipeLimits.upTo(RecipeLimits.epochs, from: 1), doc: "training epochs (1000 for CIFAR)"),
            .int("batch_size", \.batchSize, default: 1024, range: RecipeLimits.upTo(RecipeLimits.batch, from: 1), doc: "images per step (two views each)"),
            .float("learning_rate", \.learningRate, default: 0.5, range: .greaterThan(0), doc: "base learning rate of SGD"),
            .float("momentum", \.momentum, default: 0.9, range: NumericRange(lower: 0, upper: 1, upperInclusive: false), doc: "SGD momentum"),
            .float("weight_decay", \.weightDecay, default: 1e-4, range: .atLeast(0), doc: "SGD weight decay"),
            .float("lr_decay_rate", \.learningRateDecay, default: 0.1, range: .openClosed(0, 1),
                   doc: "cosine decay towards learning_rate · lr_decay_rate⁴, per epoch, counted from 0 as the reference does (the first epoch runs at learning_rate)"),
            .choice("warmup", \.warmup, default: .auto,
                    doc: "linear learning-rate warm-up from 0.01 over the reference's epochs 0–10 (ours 1–11); auto: when batch_size > 256 (the reference)"),
            .int("checkpoint_every", \.checkpointEvery, default: 10, range: RecipeLimits.upTo(RecipeLimits.epochs, from: 1),
                 doc: "epochs between checkpoints (the last epoch always writes one)"),
            .int("cluster_batch_size", \.clusterBatchSize, default: 256, range: RecipeLimits.upTo(RecipeLimits.batch, from: 1),
                 doc: "images per forward pass when embedding for re-clustering"),
            .bool("drop_last", \.dropLast, default: false,
                  doc: "drop each epoch's last partial batch; false trains on it, as SimCLR/main.py's DataLoader does (the Fashion-MNIST anchor script drops it)"),
            .string("init_weights", \.initialWeights, default: "",
                    doc: "a file of initial weights, safetensors or a PyTorch checkpoint (.pth, .pth.tar, read without running code): for resnet_cifar a SupConResNet state dict (`encoder.conv1.weight`, ..., `head.2.bias`; bare, under `module.` as the authors' SimCLR/main.py saves it, or under `model.` as our checkpoints hold it); for MoCo encoders the authors' moco/main.py checkpoint (`module.encoder_q.*`, `encoder_k.*`) or a torchvision ResNet backbone (put into both encoders). Training starts from them instead of the seed's initialisation. A relative path is taken from the working folder; the file's content digest enters the hash"),
            .int("queue_size", \.queueSize, default: 65536, range: RecipeLimits.upTo(RecipeLimits.queue, from: 1),
                 doc: "MoCo encoders: K, the keys kept in the queue with their class and subclass labels (a multiple of batch_size)"),
            .float("key_momentum", \.keyMomentum, default: 0.999, range: NumericRange(lower: 0, upper: 1, upperInclusive: false),
                   doc: "MoCo encoders: m of the key encoder's update k = m·k + (1 − m)·q before each step"),
            .int("kcl_positives", \.kclPositives, default: 6, range: RecipeLimits.upTo(RecipeLimits.queue, from: 1),
                 doc: "MoCo encoders: k of KCL, the same-class queue entries drawn (with repeats counted once) as positives per query during the warm-up, besides the key"),
            .bool("sync_batchnorm", \.synchronizesBatchNorm, default: false,
                  doc: "data-parallel runs (mpirun -np N): normalise over the whole global batch (SyncBatchNorm), so N ranks give the single-process result up to rounding; false: each rank normalises its own slice of the batch (then N enters the hash) — as the reference's DistributedDataParallel does per GPU for MoCo, but not as its DataParallel for the CIFAR half, which gives each GPU a contiguous chunk of [view 1; view 2] (batch_norm_groups emulates that). No effect on one process; not with batch_norm_groups > 1"),
            .int("batch_norm_groups", \.batchNormGroups, default: 1, range: RecipeLimits.upTo(RecipeLimits.batch, from: 1),
                 doc: "training-mode batch norm over G contiguous row groups of each process's batch, each normalised with its own statistics, running statistics from group 0 (docs/batch-norm-groups.md): the reference's per-GPU batch norm on one process. resnet_cifar: the rows are [view 1; view 2], so 2 is SimCLR/main.py's DataParallel on 2 GPUs (one view per GPU); MoCo: the query batch in G groups and the key batch permuted across them (shuffle BN), so 8 with batch_size 256 is moco/main.py on 8 GPUs. 1: the whole batch. Every group needs at least 2 rows"),
        ]

        /// Checks what the parameter ranges cannot say; the planner turns a throw into a recipe
        /// error (exit status 2) on the stage.
        public func validate() throws {
            if batchNormGroups > 1 {
                guard !synchronizesBatchNorm else {
                    throw RunError("batch_norm_groups \(batchNormGroups) and sync_batchnorm do not combine: groups normalise parts of each rank's batch, "
                                   + "sync_batchnorm the whole global batch; set batch_norm_groups: 1 or sync_batchnorm: false")
                }
                // resnet_cifar forwards both views of every image: 2 × batch_size rows.
                let views = architecture == .resnetCIFAR ? 2 : 1, rows = views * batchSize
                guard rows % batchNormGroups == 0, rows / batchNormGroups >= 2 else {
                    throw RunError("batch_norm_groups \(batchNormGroups) does not split the \(rows) rows of a batch"
                                   + (views == 2 ? " (2 views of batch_size \(batchSize))" : " (batch_size \(batchSize))")
                                   + " into groups of at least 2; choose batch_norm_groups dividing \(rows) with \(rows) / batch_norm_groups ≥ 2")
                }
            }
            guard architecture == .resnetCIFAR else {
                guard queueSize % batchSize == 0 else {
                    throw RunError("queue_size \(queueSize) is not a multiple of batch_size \(batchSize): MoCo enqueues whole batches (K % batch == 0); "
                                   + "e.g. queue_size \(max(batchSize, queueSize / batchSize * batchSize)) or a batch_size that divides \(queueSize)")
                }
                guard !synchronizesBatchNorm else {
                    throw RunError("sync_batchnorm is built for CIFAR ResNet encoders; a MoCo encoder normalises per rank, as the reference's DistributedDataParallel")
                }
                return
            }
            guard ResNetCIFAR.depths.contains(depth) else {
                throw RunError("depth \(depth) is not a CIFAR ResNet depth; expected one of \(ResNetCIFAR.depths.map(String.init).joined(separator: ", "))")
            }
        }

        /// The `init_weights` file, resolved against the working folder; nil when none is given.
        public var initialWeightsURL: URL? {
            guard !initialWeights.isEmpty else { return nil }
            return URL(fileURLWithPath: initialWeights, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true))
                .standardizedFileURL
        }
    }

    /// How the stage runs data-parallel: per-rank batch norm makes the result depend on the number
    /// of ranks, so it enters the hash; with `sync_batchnorm` N ranks compute the single-process
    /// result up to rounding — the same standing as the kernel set or CPU model, which the hash
    /// leaves out too (the manifest records `ranks`) — so the single-process hash is kept.
    static let dataParallelism = DataParallelism(rankParameters: ["sync_batchnorm"]) { (settings: Settings) in
        !settings.synchronizesBatchNorm
    }

    /// Trains the encoder of `context` and writes its artifact.
    ///
    /// - Parameter stopAfterEpoch: stop with a `RunError` once this epoch is trained and
    ///   checkpointed (tests of resuming; `sbcl-run` reads it from `SBCL_ENCODER_STOP_AFTER_EPOCH`).
    public static func run(_ context: RunContext, stopAfterEpoch: Int? = nil) throws {
        if Settings(context.parameters).architecture == .resnetCIFAR {
            try EncoderTraining(context: context).run(stopAfterEpoch: stopAfterEpoch)
        } else {
            try MoCoTraining(context: context).run(stopAfterEpoch: stopAfterEpoch)
        }
    }
}
