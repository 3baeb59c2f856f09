"""Numeric replay of the ImageNet-LT linear stage from the authors' code (JackHck/SBCL moco/:
linear_classify.py's train(), validate(), adjust_learning_rate; sample.py's ClassAwareSampler;
loss.py's LDAMLoss; utils.py's NormedLinear_Classifier), for
Tests/StagesTests/LinearStageParityTests.swift.

What it runs, as linear_classify.py's main() does, at a size the CPU runs in a few minutes:
  - torchvision resnet18(num_classes=C) (the MoCo encoder's backbone), every state entry from the
    closed formula of scripts/goldens/resnet_imagenet_golden.py (no weight file: the Swift test
    computes the same), every parameter but fc frozen (requires_grad = False) as main() does, the
    whole model under model.train() in train() (batch statistics, running statistics re-estimated)
    and model.eval() in validate(); wrapped in nn.DataParallel (which, without GPUs, calls the
    module itself);
  - three rules: `cb` (fc = nn.Linear(512, C), weight N(0, 0.01) and bias 0 from torch's generator,
    nn.CrossEntropyLoss, ClassAwareSampler (4 per visit, Python's `random` reshuffling) in a
    DataLoader(shuffle=False, drop_last=True)); `ldam` (main()'s DRW rule: fc = NormedLinear, an
    instance-shuffled DataLoader(shuffle=True, drop_last=True), LDAMLoss(max_m=0.5, s=30) with the
    per-class weights of `betas[epoch // 60]`, i.e. β = 0 at these epochs, weights all 1, as the
    reference runs its 40 epochs); `drw` (the same with the switch inside the run: `betas[epoch //
    SWITCH]`, β = 0.9999 from the 0-based epoch SWITCH on: deferred re-weighting);
  - each epoch: adjust_learning_rate(optimizer, epoch, args) (lr ×0.1 for every milestone of
    SCHEDULE with epoch + 1 >= milestone), then train() as written: int(N / B) steps, breaking
    when the next batch has been fetched (with num_workers=0 that batch's draws are lost: B
    class-aware draws an epoch, recorded below), SGD(lr, momentum 0.9, weight decay 0) on fc only;
  - after the last epoch validate() as written (model.eval(), no gradient), except `num_classes =
    1000` -> C in its source (its logits buffer is [0, 1000]; the same change as
    scripts/fidelity/moco_cpu_patch.py's), and the test logits by the same eval-mode pass.

The repair: main()'s DRW rule builds `NormedLinear_Classifier()` with its defaults (feat_dim 64,
num_classes 100), which cannot take ResNet-18's 512-d features for C classes (docs/imagenet_lt.md);
here it is `NormedLinear_Classifier(num_classes=C, feat_dim=512)`. Nothing else of the authors'
code changes: `.cuda()` is the identity and torch.cuda.FloatTensor is torch.FloatTensor (LDAMLoss's
margins stay float32, as on a GPU); the unused matplotlib / sklearn imports of utils.py are stubbed
(not installed), `import BaseDataLoader` finds the repository's BaseDareLoader.py. main()'s epoch
loop (the adjust_learning_rate / criterion / train() sequence, including its 5-line per-class
weight formula) is restated here, because main() also builds ImageNet's data and runs 40 epochs.
In the float64 replay LDAMLoss's class weights are cast to float64 (F.cross_entropy wants one dtype).

The data: real Fashion-MNIST images, C = 10 classes with COUNTS training images (np.random.seed(0)
picks them), each tinted (a fixed RGB factor per image); BASE views per image drawn once at 32 px
by linear_classify.py's training transform (RandomResizedCrop(32) + flip, on the grey image; the
tint is applied after: x_c = (g / 255 · tint_c − mean_c) / std_c, what ToTensor + Normalize give of
a tinted image, up to the tint's rounding to 8 bits); which of an image's views a draw sees comes
from a fixed sequence (one entry per dataset fetch). The test split: TEST_PER images a class from
the Fashion-MNIST test file, Resize(36) + CenterCrop(32) (linear_classify.py's Resize(256) /
CenterCrop(224) at 32 px, as moco_cpu_patch.py), tinted likewise.

Each rule is replayed in float64 (the exact path, for our purpose), float32, and float32 with the
inputs scaled by 1 + 2^-22 (one rounding's worth of difference at the start); the test's bounds are
twice the larger of the two float32 deviations from float64.

Writes Tests/StagesTests/linear_stage/replay.safetensors:
  train [N·BASE, 32, 32] u8 (image i's views at rows BASE·i ...), train.tint [N, 3] f32, labels [N] i64,
  test [T, 32, 32] u8, test.tint [T, 3] f32, test.labels [T] i64;
  per rule R in cb, ldam, drw: R.rows [S, B] i64 (the rows of `train` of each step's batch, in
  order), R.lr [S] f64 (the rate each step ran at), R.loss64 / R.loss32 [S] f64, R.head0 (the
  initial fc.weight [C, 512] (+ R.bias0 [C]) or NormedLinear weight [512, C]), R.head64 / R.head32
  (the final ones; + R.bias64 / R.bias32), R.logits64 / R.logits32 [T, C] f32 (validate()'s
  outputs), R.stats.<name> [D] f32 (float64's re-estimated running_mean / running_var, every
  batch norm of the backbone; cb and ldam: drw draws ldam's batches, so has its statistics);
  metadata: the settings and, per rule, the float32 and perturbed-float32 deviations from float64:
  loss (root-sum-square of relative step-loss deviations), first (the first step's), head
  (‖w − w64‖ / ‖w64 − w0‖), stats (‖r − r64‖ / ‖r64 − r0‖), logits (max |l − l64|), top1 (validate()).

Usage: SBCL_REF=<checkout of JackHck/SBCL> PYTHONPATH=<torchvision> /work/venv-torch/bin/python \
           scripts/fidelity/linear_stage_reference.py
Env: EPOCHS (4) BATCH (16) LR (10 · BATCH / 2048) SWITCH (2) THREADS (2) OUT (another folder). 9 replays, about
3 minutes of CPU (12 minutes of wall time on 2 shared, busy cores at nice 10).
"""
import gzip
import importlib
import inspect
import os
import random
import sys
import types

import numpy as np
import torch
import torch.nn as nn
import torchvision
import torchvision.transforms as T
from PIL import Image
from safetensors.torch import save_file

REF = os.environ.get("SBCL_REF", "/tmp/sbclref")
torch.Tensor.cuda = lambda self, *a, **k: self
nn.Module.cuda = lambda self, *a, **k: self
torch.cuda.FloatTensor = torch.FloatTensor
# utils.py imports matplotlib and sklearn and uses neither; imagenet_lt_loader.py imports
# BaseDataLoader, a file the repository calls BaseDareLoader.py.
for name in ["matplotlib", "matplotlib.pyplot", "sklearn", "sklearn.metrics", "sklearn.utils", "sklearn.utils.multiclass"]:
    sys.modules.setdefault(name, types.ModuleType(name))
sys.modules["matplotlib"].use = lambda *a, **k: None
sys.modules["sklearn.metrics"].confusion_matrix = None
sys.modules["sklearn.utils.multiclass"].unique_labels = None
sys.path.insert(0, os.path.join(REF, "moco"))
sys.modules["BaseDataLoader"] = importlib.import_module("BaseDareLoader")
import linear_classify as LC  # noqa: E402  (the authors' linear stage)
from loss import LDAMLoss  # noqa: E402
from sample import ClassAwareSampler  # noqa: E402
from utils import NormedLinear_Classifier  # noqa: E402

# validate() as written but for its `num_classes =1000` (the logits buffer's width).
_source = inspect.getsource(LC.validate)
assert "num_classes =1000" in _source
exec(compile(_source.replace("num_classes =1000", "num_classes = C_TEST"), LC.__file__, "exec"), LC.__dict__)
validate = LC.validate

THREADS = int(os.environ.get("THREADS", 2))
torch.set_num_threads(THREADS)
E = int(os.environ.get("EPOCHS", 4)); B = int(os.environ.get("BATCH", 16))
# linear_classify.py's --lr 10 at batch 2048, scaled linearly to the batch (as the end-to-end
# harness does): at batch 16 the rate 10 drives the linear head's loss into the thousands.
LR = float(os.environ.get("LR", 10 * B / 2048))
SWITCH = int(os.environ.get("SWITCH", 2))
SCHEDULE = [2, 3]  # linear_classify.py's --schedule at this length (its default: 20 30 of 40)
COUNTS = [36, 27, 20, 15, 11, 8, 6, 5, 4, 3]
C, TEST_PER, BASE, SIZE = len(COUNTS), 10, 2, 32
LC.C_TEST = C
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
OUT = os.environ.get("OUT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "StagesTests",
                                            "linear_stage")
os.makedirs(OUT, exist_ok=True)


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "goldens"))
from closed_formula import formula, formula_value  # noqa: E402


# The data.
ROOT = "/usr/share/datasets/fashion-mnist/"


def load(split):
    images = np.frombuffer(gzip.open(ROOT + f"{split}-images-idx3-ubyte.gz").read(), np.uint8, offset=16).reshape(-1, 28, 28)
    labels = np.frombuffer(gzip.open(ROOT + f"{split}-labels-idx1-ubyte.gz").read(), np.uint8, offset=8).astype(np.int64)
    return images, labels


xtr, ytr = load("train")
xte, yte = load("t10k")
np.random.seed(0)
sel = np.concatenate([np.random.permutation(np.where(ytr == c)[0])[:n] for c, n in enumerate(COUNTS)])
tsel = np.concatenate([np.random.permutation(np.where(yte == c)[0])[:TEST_PER] for c in range(C)])
N, NT = len(sel), len(tsel)
labels, test_labels = ytr[sel].copy(), yte[tsel].copy()
tint = np.random.RandomState(1).uniform(0.45, 1.0, size=(N, 3)).astype(np.float32)
test_tint = np.random.RandomState(2).uniform(0.45, 1.0, size=(NT, 3)).astype(np.float32)
torch.manual_seed(2)  # torchvision's draws
train_view = T.Compose([T.RandomResizedCrop(SIZE), T.RandomHorizontalFlip()])
test_view = T.Compose([T.Resize(SIZE * 8 // 7), T.CenterCrop(SIZE)])
train = np.zeros((N * BASE, SIZE, SIZE), np.uint8)
for i in range(N):
    for v in range(BASE):
        train[BASE * i + v] = np.array(train_view(Image.fromarray(xtr[sel[i]], "L")))
test = np.stack([np.array(test_view(Image.fromarray(xte[j], "L"))) for j in tsel])
VIEWS = np.random.RandomState(3).randint(0, BASE, size=100000)  # which view the k-th fetch sees


def to_input(grey, tints, dtype, scale):
    """(g / 255 · tint_c − mean_c) / std_c, NCHW, computed in `dtype` (float32: as the Swift test)."""
    g = torch.from_numpy(grey.astype(np.float64 if dtype == torch.float64 else np.float32)).div(255)
    x = g[:, None, :, :] * torch.from_numpy(tints).to(dtype)[:, :, None, None]
    x = x.sub(torch.tensor(MEAN, dtype=dtype)[None, :, None, None]).div(torch.tensor(STD, dtype=dtype)[None, :, None, None])
    return x * scale if scale != 1.0 else x


class Views(torch.utils.data.Dataset):
    """The training images as linear_classify.py's dataset yields them (image, target, index),
    each fetch one of the image's fixed views; every fetch is logged."""

    def __init__(self, dtype, scale):
        self.labels = labels.tolist()  # what ClassAwareSampler reads
        self.inputs = to_input(train, np.repeat(tint, BASE, axis=0), dtype, scale)
        self.log = []

    def __len__(self):
        return N

    def __getitem__(self, i):
        row = BASE * i + int(VIEWS[len(self.log)])
        self.log.append(row)
        return self.inputs[row], int(labels[i]), i


class Recorder:
    """Stands in for the criterion in train(): the same value, with the step's loss, rate and targets kept."""

    def __init__(self):
        self.losses, self.rates, self.targets, self.criterion, self.optimizer = [], [], [], None, None

    def __call__(self, output, target):
        value = self.criterion(output, target)
        if torch.is_grad_enabled():
            self.losses.append(value.item())
            self.rates.append(self.optimizer.param_groups[0]["lr"])
            self.targets.append(target.tolist())
        return value


def model_for(rule):
    """main()'s model: resnet18, everything but fc frozen, fc initialised by the rule; the backbone from the formula."""
    model = torchvision.models.resnet18(num_classes=C)
    with torch.no_grad():
        for t, (name, tensor) in enumerate(model.state_dict().items()):
            if tensor.dtype == torch.float32:
                tensor.copy_(formula_value(name, tuple(tensor.shape), t))
    for name, param in model.named_parameters():
        if name not in ["fc.weight", "fc.bias"]:
            param.requires_grad = False
    if rule == "cb":
        model.fc.weight.data.normal_(mean=0.0, std=0.01)
        model.fc.bias.data.zero_()
    else:
        model.fc = NormedLinear_Classifier(num_classes=C, feat_dim=512)  # the repair: sized to the features and classes
    return model


def replay(rule, dtype, scale=1.0):
    torch.manual_seed(10)  # fc's initial weights, the instance shuffles
    random.seed(10)  # ClassAwareSampler's RandomCycleIter reshuffles
    model = model_for(rule)
    head0 = {k: v.detach().clone() for k, v in model.fc.state_dict().items()}
    stats0 = {k: v.detach().clone() for k, v in model.state_dict().items() if "running_" in k}
    model = nn.DataParallel(model.to(dtype))
    args = types.SimpleNamespace(batch_size=B, gpu=None, print_freq=10 ** 9, lr=LR, schedule=SCHEDULE, cls_num_list=COUNTS,
                                 multiprocessing_distributed=False)
    parameters = list(filter(lambda p: p.requires_grad, model.parameters()))
    assert len(parameters) == (2 if rule == "cb" else 1)
    optimizer = torch.optim.SGD(parameters, args.lr, momentum=0.9, weight_decay=0)
    dataset = Views(dtype, scale)
    if rule == "cb":
        loader = torch.utils.data.DataLoader(dataset, batch_size=B, shuffle=False, num_workers=0, sampler=ClassAwareSampler(dataset),
                                             drop_last=True)
    else:
        loader = torch.utils.data.DataLoader(dataset, batch_size=B, shuffle=True, num_workers=0, drop_last=True)
    recorder = Recorder()
    recorder.optimizer = optimizer
    rows, fetched = [], []
    steps = int(N / B)
    for epoch in range(E):
        LC.adjust_learning_rate(optimizer, epoch, args)
        if rule == "cb":
            criterion = nn.CrossEntropyLoss()
        else:  # main()'s DRW rule; `drw` switches at SWITCH instead of 60
            idx = epoch // (60 if rule == "ldam" else SWITCH)
            betas = [0, 0.9999]
            effective_num = 1.0 - np.power(betas[idx], args.cls_num_list)
            per_cls_weights = (1.0 - betas[idx]) / np.array(effective_num)
            per_cls_weights = per_cls_weights / np.sum(per_cls_weights) * len(args.cls_num_list)
            per_cls_weights = torch.FloatTensor(per_cls_weights).to(dtype)
            criterion = LDAMLoss(cls_num_list=args.cls_num_list, max_m=0.5, s=30, weight=per_cls_weights)
        recorder.criterion = criterion
        start = len(dataset.log)
        LC.train(loader, model, recorder, optimizer, epoch, args)
        log = dataset.log[start:]
        fetched.append(len(log))
        rows += [log[k * B:(k + 1) * B] for k in range(steps)]
    rows = np.array(rows, np.int64)
    assert rows.shape == (E * steps, B) and len(recorder.losses) == E * steps
    assert all(list(labels[r // BASE]) == t for r, t in zip(rows, recorder.targets)), "the logged fetches are the batches trained on"
    test_set = torch.utils.data.TensorDataset(to_input(test, test_tint, dtype, scale), torch.from_numpy(test_labels))
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=B, shuffle=False, num_workers=0)
    top1, _ = validate(test_loader, model, criterion, args)
    model.eval()
    with torch.no_grad():
        logits = model(test_set.tensors[0])
    assert abs(float(top1) - 100.0 * (logits.argmax(1) == test_set.tensors[1]).sum().item() / NT) < 1e-9
    inner = model.module
    return {"rows": rows, "lr": np.array(recorder.rates), "loss": np.array(recorder.losses), "fetched": fetched,
            "head0": head0, "head": {k: v.detach().clone() for k, v in inner.fc.state_dict().items()},
            "stats0": stats0, "stats": {k: v.detach().clone() for k, v in inner.state_dict().items() if "running_" in k},
            "logits": logits.detach().double(), "top1": float(top1),
            "tracked": int(inner.state_dict()["bn1.num_batches_tracked"])}


def flat(d):
    return torch.cat([v.double().flatten() for _, v in sorted(d.items())])


def deviation(run, exact):
    rel = (run["loss"] - exact["loss"]) / exact["loss"]
    h0, h64 = flat(exact["head0"]), flat(exact["head"])
    s0, s64 = flat(exact["stats0"]), flat(exact["stats"])
    return {"loss": float(np.sqrt((rel ** 2).sum())), "first": abs(float(rel[0])),
            "head": ((flat(run["head"]) - h64).norm() / (h64 - h0).norm()).item(),
            "stats": ((flat(run["stats"]) - s64).norm() / (s64 - s0).norm()).item(),
            "logits": (run["logits"] - exact["logits"]).abs().max().item(), "top1": run["top1"]}


tensors = {"train": torch.from_numpy(train), "train.tint": torch.from_numpy(tint), "labels": torch.from_numpy(labels),
           "test": torch.from_numpy(test), "test.tint": torch.from_numpy(test_tint), "test.labels": torch.from_numpy(test_labels)}
meta = {"epochs": str(E), "batch": str(B), "lr": repr(LR), "schedule": ",".join(map(str, SCHEDULE)), "switch": str(SWITCH),
        "momentum": "0.9", "weight_decay": "0", "max_margin": "0.5", "scale": "30", "beta": "0.9999", "base_views": str(BASE),
        "mean": ",".join(map(repr, MEAN)), "std": ",".join(map(repr, STD)), "torch": torch.__version__}
for rule in ["cb", "ldam", "drw"]:
    exact = replay(rule, torch.float64)
    golden = replay(rule, torch.float32)
    scaled = replay(rule, torch.float32, scale=1.0 + 2.0 ** -22)
    for other in (golden, scaled):
        assert np.array_equal(other["rows"], exact["rows"]) and np.array_equal(other["lr"], exact["lr"])
    if rule == "drw":
        assert np.array_equal(exact["rows"], ldam_rows), "drw draws ldam's batches"
    ldam_rows = exact["rows"]
    assert exact["tracked"] == len(exact["loss"])
    tensors.update({f"{rule}.rows": torch.from_numpy(exact["rows"]), f"{rule}.lr": torch.from_numpy(exact["lr"]),
                    f"{rule}.loss64": torch.from_numpy(exact["loss"]), f"{rule}.loss32": torch.from_numpy(golden["loss"]),
                    f"{rule}.head0": exact["head0"]["weight"].float(), f"{rule}.head64": exact["head"]["weight"].float(),
                    f"{rule}.head32": golden["head"]["weight"].float(),
                    f"{rule}.logits64": exact["logits"].float(), f"{rule}.logits32": golden["logits"].float()})
    if rule == "cb":
        tensors.update({"cb.bias0": exact["head0"]["bias"].float(), "cb.bias64": exact["head"]["bias"].float(),
                        "cb.bias32": golden["head"]["bias"].float()})
    if rule != "drw":
        for k, v in exact["stats"].items():
            tensors[f"{rule}.stats.{k}"] = v.float()
    for label, run in (("float32", golden), ("scaled", scaled)):
        for key, value in deviation(run, exact).items():
            meta[f"{rule}.{label}.{key}"] = repr(value)
    meta[f"{rule}.top1_64"] = repr(exact["top1"])
    meta[f"{rule}.fetched_per_epoch"] = ",".join(map(str, exact["fetched"]))
    margins = exact["logits"].topk(2, dim=1).values
    print(rule, "top1 float64", exact["top1"], "float32", golden["top1"], "scaled", scaled["top1"],
          "| smallest top-two margin", (margins[:, 0] - margins[:, 1]).min().item())
    print("  losses64", np.round(exact["loss"], 4).tolist())
    print("  lr", sorted(set(exact["lr"].tolist())), "fetched per epoch", exact["fetched"], "steps per epoch", int(N / B))
    print("  float32", {k: f"{v:.3g}" for k, v in deviation(golden, exact).items()})
    print("  scaled ", {k: f"{v:.3g}" for k, v in deviation(scaled, exact).items()})
save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "replay.safetensors"), metadata=meta)
print("wrote", os.path.join(OUT, "replay.safetensors"), os.path.getsize(os.path.join(OUT, "replay.safetensors")), "bytes")
