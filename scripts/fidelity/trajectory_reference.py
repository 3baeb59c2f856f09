"""Reference trajectory of SBCL's first stage, from the authors' code (JackHck/SBCL, SimCLR/), for
the trajectory-parity test (Tests/StagesTests/TrajectoryParityTests.swift).

What it runs, exactly as SimCLR/main.py and ../shared/anchors/torch_fmnist_lt.py do, on a small
real Fashion-MNIST long-tailed subset (n_c = int(40 * 0.1 ** (c / 9)): 40 ... 4, 161 images,
selected as IMBALANCECIFAR does with np.random.seed(0), grouped by class):
  - resnet.SupConResNet(feat_dim=128) under torch.manual_seed(0), conv1 replaced by a 1-channel
    Conv2d with kaiming_normal_ (the anchor's stem), first trained PRETRAIN epochs with SupCon
    (unrecorded; see below why); then a fresh SGD(lr, momentum 0.9, weight decay 1e-4);
  - EPOCHS epochs (0-based, as main.py), lr = adjust_learning_rate(epoch) (cosine to lr·0.1⁴, per
    epoch), batch B with the last partial batch kept (main.py's DataLoader, drop_last=False);
  - epochs < WARM: loss.SupConLoss(temperature=0.1); from WARM on, every STEP epochs, main.cluster()'s
    computation (eval mode, one augmented view of every image, per-class cosine k-means with
    iter_limit 35, tol 1e-3, M = 10, density temperatures) with np.random.seed(CLUSTER_SEED + epoch)
    (or the next seed, see cluster<e>.seed) just before it, then loss.SupConLoss_rank(num_class=10, ranking_temperature=density);
  - views from the anchor's torchvision pipeline on PIL images: RandomResizedCrop(28, (0.2, 1)),
    RandomHorizontalFlip, RandomApply([ColorJitter(0.4, 0.4)], 0.8); ToTensor; Normalize by the
    subset's mean/std. The 8-bit views (before ToTensor) are stored, so the replay is exact.

Writes Tests/StagesTests/Fixtures/trajectory/:
  initial.safetensors   the initial state dict (PyTorch names), float32
  final64.safetensors   the state dict after the last step of the same trajectory in float64
                        (model.double(), the same views and subclasses; rounded to float32 for the
                        file): the exact-arithmetic path
  steps.safetensors     views [S, 2B, 28, 28] u8 (view-major: the B first views, then the B second;
                        the last partial batch zero-padded), sizes [S] i64 (images in the step),
                        labels [S, B] i64, lr [S] f64, loss [S] f64, rank [S] i64 (1 = SBCL rank loss),
                        cluster<e>.views [N, 28, 28] u8, cluster<e>.features [N, 128] f32,
                        cluster<e>.features64 [N, 128] f32 (the float64 run's, rounded),
                        cluster<e>.seed [] i64 (numpy's seed before the k-means: the first of
                        CLUSTER_SEED + e + 1000·j whose k-means never meets an empty cluster),
                        cluster<e>.subclasses [N] i64, cluster<e>.temperatures [10] f64,
                        subset_labels [N] i64, loss64 [S] f64 (the float64 run's losses);
                        metadata: mean, std, lr, batch, epochs, warm, step, cluster_seed, and the
                        rounding spread measured below.
Rounding spread (the test's tolerance is built on it): the float32 trajectory against the float64 one
from the same views and subclasses — how far PyTorch's own float32 arithmetic strays from exact
arithmetic — as `spread32_params` (‖w32 − w64‖ / ‖w64 − w0‖ over all parameters, i.e. the share of
the learned displacement that rounding changed), `spread32_running` (the same for the BN running
statistics, against their initial values), and per-step loss differences in loss/loss64. Also, for
information, the float32 run with 2 threads against 1 (`spread_threads_params`).

Usage: SBCL_REF=<checkout of JackHck/SBCL> /work/venv/bin/python scripts/fidelity/trajectory_reference.py
Env: EPOCHS (12) WARM (4) STEP (4) BATCH (36) LR (0.05) PRETRAIN (40); for diagnostics, NMAX (40: the
largest class), FACTOR (0.1: n_c = int(NMAX * FACTOR ** (c / 9))) and OUT (another folder for the files).

The full-scale replay (docs/fidelity.md, "The first stage at full scale"): the authors' setting
(NMAX=6000 FACTOR=0.01 BATCH=256 LR=0.5 EPOCHS=15 WARM=3 STEP=3) recorded from a given state rather
than from PRETRAIN epochs: INIT (a state dict in the reference's names, e.g. reference_warmup.py's
output after the warm-up), FIRST_EPOCH (the 0-based epoch the record starts at), RECORD_EPOCHS (how
many), THREADS (the golden and float64 runs' threads, 1), SEED_TRIES (100: re-clustering seeds tried
for one whose k-means meets no empty cluster; with fewer the last is kept and cluster<e>.clean is 0),
SKIP_THREADS=1 (no 2-thread float32 run). TrajectoryParityTests replays such a folder when
SBCL_TRAJECTORY_DIR names it.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms as T
from safetensors.torch import save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "goldens"))
import reference  # noqa: E402,F401  (makes the authors' code importable without a GPU)
from reference import resnet, loss as L, kmeans_gpu  # noqa: E402

torch.set_num_threads(1)
E = int(os.environ.get("EPOCHS", 12)); WARM = int(os.environ.get("WARM", 4)); STEP = int(os.environ.get("STEP", 4))
B = int(os.environ.get("BATCH", 36)); LR = float(os.environ.get("LR", 0.05)); PRETRAIN = int(os.environ.get("PRETRAIN", 40))
TEMP, M, CLUSTER_SEED = 0.1, 10, 100
NMAX = int(os.environ.get("NMAX", 40)); FACTOR = float(os.environ.get("FACTOR", 0.1))
INIT = os.environ.get("INIT"); FIRST = int(os.environ.get("FIRST_EPOCH", 0)); NEP = int(os.environ.get("RECORD_EPOCHS", E - FIRST))
THREADS = int(os.environ.get("THREADS", 1)); SEED_TRIES = int(os.environ.get("SEED_TRIES", 100))
OUT = os.environ.get("OUT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "StagesTests", "Fixtures", "trajectory")
os.makedirs(OUT, exist_ok=True)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist_lt  # noqa: E402
xlt, ylt, counts, mean, std = fmnist_lt.load(NMAX, FACTOR)
N = len(ylt)
mean, std = float(mean), float(std)
views_rng = np.random.RandomState(7)          # the batch order (anchor: np.random.permutation)
torch.manual_seed(0)
model = resnet.SupConResNet(feat_dim=128)
model.encoder.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False); nn.init.kaiming_normal_(model.encoder.conv1.weight)
torch.manual_seed(1)                           # the augmentation draws
# Start from a trained encoder, not from the initialisation: at initialisation every projection is
# nearly the same vector, the SupCon gradient is a small difference of large terms, and float32
# loses three digits in it (PyTorch's own float32 gradients are 1e-3 off float64 there), so float32
# paths fan out and only a loose tolerance could hold. PRETRAIN epochs of SupCon (lr 0.05, not
# recorded) spread the projections; the recorded trajectory starts from there with a fresh SGD.
pre_opt = torch.optim.SGD(model.parameters(), 0.05, momentum=0.9, weight_decay=1e-4)
pre_rng = np.random.RandomState(11)
pre_aug = T.Compose([T.ToPILImage(), T.RandomResizedCrop(28, scale=(0.2, 1.)), T.RandomHorizontalFlip(),
                     T.RandomApply([T.ColorJitter(0.4, 0.4)], p=0.8), T.ToTensor(), T.Normalize((mean,), (std,))])
model.train()
if INIT:
    from safetensors.torch import load_file
    missing, unexpected = model.load_state_dict(load_file(INIT), strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
for _ in range(0 if INIT else PRETRAIN):
    perm = pre_rng.permutation(N)
    for k in range(0, N, B):
        ix = perm[k:k + B]
        x = torch.cat([torch.stack([pre_aug(xlt[i]) for i in ix]), torch.stack([pre_aug(xlt[i]) for i in ix])])
        f = model(x); f1, f2 = torch.split(f, [len(ix), len(ix)])
        l = L.SupConLoss(temperature=TEMP)(torch.cat([f1[:, None], f2[:, None]], 1), torch.from_numpy(ylt[ix]))
        pre_opt.zero_grad(); l.backward(); pre_opt.step()
initial = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
aug8 = T.Compose([T.ToPILImage(), T.RandomResizedCrop(28, scale=(0.2, 1.)), T.RandomHorizontalFlip(),
                  T.RandomApply([T.ColorJitter(0.4, 0.4)], p=0.8)])
ncl = [t // max(min(counts), M) or 1 for t in counts]


def to_input(u8, dtype):
    """ToTensor + Normalize of 8-bit views [n, 28, 28] (torchvision's arithmetic, in float32)."""
    x = torch.from_numpy(u8).float().div(255).unsqueeze(1)
    x = x.sub(torch.tensor([mean])[:, None, None]).div(torch.tensor([std])[:, None, None])
    return x.to(dtype)


def cluster(model, u8views, dtype):
    """main.cluster() for train_rule 'Rank' on given views; numpy's global generator seeded by the caller."""
    model.eval()
    with torch.no_grad():   # in chunks, as main.cluster()'s loader: one pass over 14,886 images needs ~13 GB of im2col in float64
        feats = torch.cat([model(to_input(u8views[k:k + 512], dtype)) for k in range(0, len(u8views), 512)]).float()
    parts = torch.split(feats, counts)
    centers = torch.stack([p.mean(0) for p in parts])
    dens = np.array([F.pairwise_distance(parts[c], centers[c][None], p=2).mean().item() / np.log(len(parts[c]) + 10)
                     for c in range(10)])
    dens = dens.clip(np.percentile(dens, 20), np.percentile(dens, 80)); dens = TEMP * (dens / dens.mean())
    for c in range(10):
        if ncl[c] == 1: dens[c] = TEMP
    tg, off = [], 0
    for c in range(10):
        if ncl[c] > 1:
            ids, _ = kmeans_gpu.kmeans(X=parts[c], num_clusters=ncl[c], distance="cosine", tol=1e-3, iter_limit=35, tqdm_flag=False)
        else:
            ids = torch.zeros(len(parts[c]), dtype=torch.long)
        tg.append(ids.long() + off); off += ncl[c]
    return feats, torch.cat(tg).numpy(), dens


def run(dtype, threads, script=None):
    """One trajectory. Without `script` it draws views and clusters (the golden run) and returns the
    script of what it drew; with one it replays those views and subclasses."""
    torch.set_num_threads(threads)
    m = resnet.SupConResNet(feat_dim=128)
    m.encoder.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
    m.load_state_dict(initial); m.to(dtype)
    opt = torch.optim.SGD(m.parameters(), LR, momentum=0.9, weight_decay=1e-4)
    rec = script or {"steps": [], "clusters": {}}
    losses, s, sub, density = [], 0, None, None
    for ep in range(FIRST, FIRST + NEP):
        lr = LR * 1e-4 + (LR - LR * 1e-4) * (1 + math.cos(math.pi * ep / E)) / 2   # adjust_learning_rate
        for g in opt.param_groups: g["lr"] = lr
        if ep >= WARM and (ep - WARM) % STEP == 0:
            if script is None:
                cv = np.stack([np.array(aug8(x)) for x in xlt])
                # kmeans_gpu refills an empty cluster with X[torch.randint(...)], a draw of torch's
                # generator that no other implementation can repeat: take the first seed whose
                # k-means runs never reach that branch, so the labels can be compared exactly.
                for seed in range(CLUSTER_SEED + ep, CLUSTER_SEED + ep + 1000 * SEED_TRIES, 1000):
                    empty = []
                    randint = torch.randint
                    torch.randint = lambda *a, **k: empty.append(1) or randint(*a, **k)
                    try:
                        np.random.seed(seed)
                        feats, sub, density = cluster(m, cv, dtype)
                    finally:
                        torch.randint = randint
                    if not empty:
                        break
                rec["clusters"][ep] = (cv, feats.numpy(), sub, density, seed, not empty)
            else:
                cv, _, sub, density, _, _ = rec["clusters"][ep]
                m.eval()
                with torch.no_grad():
                    rec.setdefault("replayed", {})[(dtype, ep)] = torch.cat(
                        [m(to_input(cv[k:k + 512], dtype)) for k in range(0, len(cv), 512)]).double().numpy()
        m.train()
        perm = views_rng.permutation(N) if script is None else None
        steps = (N + B - 1) // B
        for k in range(steps):
            if script is None:
                ix = perm[k * B:(k + 1) * B]
                v1 = np.stack([np.array(aug8(xlt[i])) for i in ix]); v2 = np.stack([np.array(aug8(xlt[i])) for i in ix])
                rec["steps"].append({"ix": ix, "views": np.concatenate([v1, v2]), "lr": lr, "rank": ep >= WARM})
            st = rec["steps"][s]
            ix = st["ix"]; n = len(ix)
            f = m(to_input(st["views"], dtype))
            f1, f2 = torch.split(f, [n, n]); feats = torch.cat([f1[:, None], f2[:, None]], 1)
            y = torch.from_numpy(ylt[ix])
            if ep < WARM:
                l = L.SupConLoss(temperature=TEMP)(feats, y)
            else:
                l = L.SupConLoss_rank(num_class=10, ranking_temperature=density)(feats, y, torch.from_numpy(sub[ix]))
            opt.zero_grad(); l.backward(); opt.step()
            losses.append(l.item()); s += 1
    return rec, {k: v.detach().clone() for k, v in m.state_dict().items()}, np.array(losses)


rec, final, losses = run(torch.float32, THREADS)
_, final2, losses2 = (None, final, None) if os.environ.get("SKIP_THREADS") else run(torch.float32, 2, rec)
_, final64, losses64 = run(torch.float64, THREADS, rec)


def spread(a, b, running):
    """‖a − b‖ / ‖b − initial‖ over the parameters (running=False) or the BN running statistics."""
    keys = [k for k, v in a.items() if v.dtype.is_floating_point and (("running" in k) == running)]
    num = sum(((a[k].double() - b[k].double()) ** 2).sum().item() for k in keys)
    den = sum(((b[k].double() - initial[k].double()) ** 2).sum().item() for k in keys)
    return (num / den) ** 0.5


S = len(rec["steps"])
views = np.zeros((S, 2 * B, 28, 28), np.uint8); labels = np.full((S, B), -1, np.int64); sizes = np.zeros(S, np.int64)
indices = np.full((S, B), -1, np.int64)
for k, st in enumerate(rec["steps"]):
    n = len(st["ix"]); sizes[k] = n
    views[k, :n] = st["views"][:n]; views[k, B:B + n] = st["views"][n:]
    labels[k, :n] = ylt[st["ix"]]; indices[k, :n] = st["ix"]
tensors = {"views": torch.from_numpy(views), "sizes": torch.from_numpy(sizes), "labels": torch.from_numpy(labels),
           "indices": torch.from_numpy(indices),
           "lr": torch.tensor([st["lr"] for st in rec["steps"]], dtype=torch.float64),
           "loss": torch.from_numpy(losses.astype(np.float64)), "loss64": torch.from_numpy(losses64.astype(np.float64)),
           "rank": torch.tensor([int(st["rank"]) for st in rec["steps"]], dtype=torch.int64),
           "subset_labels": torch.from_numpy(ylt.copy())}
for ep, (cv, feats, sub, dens, seed, clean) in rec["clusters"].items():
    tensors[f"cluster{ep}.clean"] = torch.tensor(int(clean), dtype=torch.int64)
    tensors[f"cluster{ep}.views"] = torch.from_numpy(cv)
    tensors[f"cluster{ep}.features"] = torch.from_numpy(feats)
    tensors[f"cluster{ep}.features64"] = torch.from_numpy(rec["replayed"][(torch.float64, ep)].astype(np.float32))
    tensors[f"cluster{ep}.seed"] = torch.tensor(seed, dtype=torch.int64)
    tensors[f"cluster{ep}.subclasses"] = torch.from_numpy(sub.astype(np.int64))
    tensors[f"cluster{ep}.temperatures"] = torch.from_numpy(dens.astype(np.float64))
meta = {"mean": repr(mean), "std": repr(std), "lr": repr(LR), "batch": str(B), "epochs": str(E), "warm": str(WARM),
        "step": str(STEP), "cluster_seed": str(CLUSTER_SEED), "torch": torch.__version__,
        "first_epoch": str(FIRST), "nmax": str(NMAX), "factor": repr(FACTOR), "init": os.path.basename(INIT) if INIT else "",
        "spread32_params": repr(spread(final, final64, False)), "spread32_running": repr(spread(final, final64, True)),
        "spread_threads_params": repr(spread(final2, final, False))}
save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "steps.safetensors"), metadata=meta)
save_file(initial, os.path.join(OUT, "initial.safetensors"))
save_file({k: (v.float() if v.dtype.is_floating_point else v).contiguous() for k, v in final64.items()},
          os.path.join(OUT, "final64.safetensors"))
print({k: meta[k] for k in meta if k.startswith("spread")}, "steps", S, "losses", losses[:3], losses[-3:])
