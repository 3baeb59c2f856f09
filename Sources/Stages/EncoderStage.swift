import Foundation
import PipelineDSL
import Engine
import Datasets

/// The `encoder` stage kind: SBCL's first stage — a CIFAR ResNet with a projection head trained
/// with SupCon during the warm-up, then with the SBCL loss on subclasses that are recomputed every
/// `every` epochs (SPEC §1, `EncoderTraining`); or a torchvision ResNet in MoCo v2 trained with
/// KCL, then SBCL on the queue (SPEC §1b, `MoCoTraining`).
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
    public static let kind = StageKind(
        name: name, version: 2,
        summary: "first-stage training: SupCon warm-up, then SBCL with periodic re-clustering",
        parameters: [
            .choice("architecture", ["resnet_cifar", "resnet18", "resnet34", "resnet50"], default: "resnet_cifar",
                    doc: "resnet_cifar (He et al.'s CIFAR ResNets, by depth; SimCLR/main.py); resnet18, resnet34, resnet50: torchvision's ResNets inside MoCo v2 (query and momentum key encoders, MLP head, queue; moco/main.py), trained with KCL for the clustering stage's warmup_epochs, then with the SBCL loss on the queue"),
            .int("depth", default: 32, range: .closed(20, 110), doc: "CIFAR ResNet depth: 20, 32, 44, 56 or 110"),
            .int("projection_dim", default: 128, range: .atLeast(1), doc: "output size of the projection head"),
            .int("epochs", default: 1000, range: .atLeast(1), doc: "training epochs (1000 for CIFAR)"),
            .int("batch_size", default: 1024, range: .atLeast(1), doc: "images per step (two views each)"),
            .float("learning_rate", default: 0.5, range: .greaterThan(0), doc: "base learning rate of SGD"),
            .float("momentum", default: 0.9, range: NumericRange(lower: 0, upper: 1, upperInclusive: false), doc: "SGD momentum"),
            .float("weight_decay", default: 1e-4, range: .atLeast(0), doc: "SGD weight decay"),
            .float("lr_decay_rate", default: 0.1, range: .openClosed(0, 1),
                   doc: "cosine decay towards learning_rate · lr_decay_rate⁴, per epoch, counted from 0 as the reference does (the first epoch runs at learning_rate)"),
            .choice("warmup", ["auto", "on", "off"], default: "auto",
                    doc: "linear learning-rate warm-up from 0.01 over the reference's epochs 0–10 (ours 1–11); auto: when batch_size > 256 (the reference)"),
            .int("checkpoint_every", default: 10, range: .atLeast(1), doc: "epochs between checkpoints (the last epoch always writes one)"),
            .int("cluster_batch_size", default: 256, range: .atLeast(1), doc: "images per forward pass when embedding for re-clustering"),
            .bool("drop_last", default: false,
                  doc: "drop each epoch's last partial batch; false trains on it, as SimCLR/main.py's DataLoader does (the Fashion-MNIST anchor script drops it)"),
            .string("init_weights", default: "",
                    doc: "a safetensors file of initial weights (a reference SupConResNet state dict: `encoder.conv1.weight`, ..., `head.2.bias`, optionally under `model.`, as our checkpoints have them); training starts from them instead of the seed's initialisation (e.g. the authors' initial weights, to compare both codes from the same start). A relative path is taken from the working folder; the file's content digest enters the hash"),
            .int("queue_size", default: 65536, range: .atLeast(1),
                 doc: "MoCo encoders: K, the keys kept in the queue with their class and subclass labels (a multiple of batch_size)"),
            .float("key_momentum", default: 0.999, range: NumericRange(lower: 0, upper: 1, upperInclusive: false),
                   doc: "MoCo encoders: m of the key encoder's update k = m·k + (1 − m)·q before each step"),
            .int("kcl_positives", default: 6, range: .atLeast(1),
                 doc: "MoCo encoders: k of KCL, the same-class queue entries drawn (with repeats counted once) as positives per query during the warm-up, besides the key"),
            .bool("sync_batchnorm", default: false,
                  doc: "data-parallel runs (mpirun -np N): normalise over the whole global batch (SyncBatchNorm), so N ranks give the single-process result up to rounding; false: per-rank batch norm as the reference's DataParallel (then N enters the hash). No effect on one process"),
        ],
        inputs: [.one("data", of: "dataset", "imbalance"), .one("augmentation", of: AugmentationStage.name),
                 .one("clustering", of: ClusteringStage.name), .one("loss", of: ContrastiveLossStage.name)],
        hashMaterial: { parameters in
            try EncoderStage.validate(parameters)
            guard let url = initialWeightsURL(parameters) else { return "" }
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw RunError("init_weights: \(url.path) does not exist")
            }
            return "init-weights md5 " + (try SourceDigest.fileMD5(url.path))
        },
        dataParallel: dataParallelism,
        memoryEstimate: { try StageMemory.encoder($0) },
        // The MoCo settings do nothing to a CIFAR ResNet, nor its depth to a torchvision one.
        inapplicableParameters: { p in
            p.string("architecture") == "resnet_cifar" ? ["queue_size", "key_momentum", "kcl_positives"] : ["depth"]
        },
        run: { context in try EncoderStage.run(context) })

    /// How the stage runs data-parallel: per-rank batch norm makes the result depend on the number
    /// of ranks, so it enters the hash; with `sync_batchnorm` N ranks compute the single-process
    /// result up to rounding — the same standing as the kernel set or CPU model, which the hash
    /// leaves out too (the manifest records `ranks`) — so the single-process hash is kept.
    static let dataParallelism = DataParallelism(rankParameters: ["sync_batchnorm"]) { parameters in
        !parameters.bool("sync_batchnorm")
    }

    /// Checks what the parameter schema cannot say; the planner turns a throw into a recipe error
    /// (exit status 2) on the stage.
    public static func validate(_ parameters: ResolvedParameters) throws {
        if parameters.string("architecture") != "resnet_cifar" {
            let queue = parameters.int("queue_size"), batch = parameters.int("batch_size")
            guard queue % batch == 0 else {
                throw RunError("queue_size \(queue) is not a multiple of batch_size \(batch): MoCo enqueues whole batches (K % batch == 0); "
                               + "e.g. queue_size \(max(batch, queue / batch * batch)) or a batch_size that divides \(queue)")
            }
            guard !parameters.bool("sync_batchnorm") else {
                throw RunError("sync_batchnorm is built for CIFAR ResNet encoders; a MoCo encoder normalises per rank, as the reference's DistributedDataParallel")
            }
            guard parameters.string("init_weights").isEmpty else {
                throw RunError("init_weights starts a CIFAR ResNet (SupConResNet names); a MoCo encoder starts from its seed")
            }
            return
        }
        let depth = parameters.int("depth")
        guard ResNetCIFAR.depths.contains(depth) else {
            throw RunError("depth \(depth) is not a CIFAR ResNet depth; expected one of \(ResNetCIFAR.depths.map(String.init).joined(separator: ", "))")
        }
    }

    /// The `init_weights` file, resolved against the working folder; nil when none is given.
    static func initialWeightsURL(_ parameters: ResolvedParameters) -> URL? {
        let path = parameters.string("init_weights")
        guard !path.isEmpty else { return nil }
        return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true))
            .standardizedFileURL
    }

    /// Trains the encoder of `context` and writes its artifact.
    ///
    /// - Parameter stopAfterEpoch: stop with a `RunError` once this epoch is trained and
    ///   checkpointed (tests of resuming; `sbcl-run` reads it from `SBCL_ENCODER_STOP_AFTER_EPOCH`).
    public static func run(_ context: RunContext, stopAfterEpoch: Int? = nil) throws {
        let stop = stopAfterEpoch
        if context.parameters.string("architecture") == "resnet_cifar" {
            try EncoderTraining(context: context).run(stopAfterEpoch: stop)
        } else {
            try MoCoTraining(context: context).run(stopAfterEpoch: stop)
        }
    }
}
