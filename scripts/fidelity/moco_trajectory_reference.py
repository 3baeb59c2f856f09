"""Reference trajectory of SBCL's ImageNet-LT first stage, from the authors' code (JackHck/SBCL,
moco/: main.py, moco.py, loss.py, kmean_gpu.py), for Tests/StagesTests/MoCoTrajectoryParityTests.swift.

What it runs, as moco/main.py does, at a size the CPU runs in a minute or two:
  - moco.MoCo(torchvision resnet18, dim=128, K, m=0.999, T=0.07, mlp=True) in one process (a gloo
    group of one rank, so `_batch_shuffle_ddp` and `concat_all_gather` run as written); the query
    encoder's whole state set from the closed formula of scripts/goldens/resnet_imagenet_golden.py
    (no weight file: the Swift test computes the same), the key encoder's parameters copied from it
    (MoCo's `__init__`), its batch-norm buffers at their defaults; the initial queue from the formula
    too (stored: 32 KB);
  - real images: Fashion-MNIST classes 0-4, n_c = 48, 32, 22, 14, 12 (np.random.seed(0), a shuffle
    of each class's indices), sorted by class as main.py's `cluster()` needs, each given a fixed RGB
    tint; BASE = 3 8-bit views per image drawn once with main.py's `aug_plus` pipeline at 32 px
    (RandomResizedCrop(32, (0.2, 1)), ColorJitter(0.4, 0.4, 0.4, 0.1) p 0.8, RandomGrayscale 0.2,
    flip; no blur at this size). Each step's query and key views are two distinct ones of them, each
    re-clustering's view a third: stored as indices, so the fixture holds no per-step pixels;
  - EPOCHS epochs of N // B steps (drop_last=True, a fresh permutation per epoch): the first half
    (pretrain_epochs = EPOCHS // 2) with KCL(K, k=6, temperature=0.07), its torch.rand draws replaced
    by stored uniforms (multiples of 2^-24, as the loss goldens feed them); then a fresh
    torch.optim.SGD(lr, momentum 0.9, weight decay 1e-4) and SupConLoss_rank(K, temperature=0.07)
    (ranking temperature 0.12, grama 0.2), with main.cluster() before every STEP-th epoch of the
    second half (eval mode, the key encoder's projections `model(im_q=x)`, split by class counts,
    cosine k-means tol 1e-3, iter_limit 35, k_c = n_c // max(min n, M) or 1, ids offset per class);
  - the rate of each half: adjust_learning_rate(optimizer, e, E_half) = lr · ½(1 + cos(π e / E_half)),
    e from 0 within the half, set once per epoch.

The run is made in float32 (the golden: its k-means gives the subclasses) and replayed in float64
from the same views, draws and subclasses (the exact path, for our purpose). The test's bounds are
multiples of how far PyTorch's own float32 strays from float64.

Writes Tests/StagesTests/Fixtures/moco_trajectory/steps.safetensors:
  base [N·BASE, 3, 32, 32] u8 (image i's views at rows BASE·i ...), labels [N] i64 (class-sorted),
  queue.initial [128, K] f32,
  index [S, B] i64 (the images of each step), query [S, B] / key [S, B] i64 (their rows of `base`),
  uniforms [S, 6·B] f32 (KCL's draws, draw-major; zero in the second half), lr [S] f64,
  loss [S] / loss64 [S] f64 (the float32 and float64 runs' step losses), rank [S] i64 (1 = SupConLoss_rank),
  cluster<e>.view [N] i64 (rows of `base`), cluster<e>.features / .features64 [N, 128] f32 (float32
  and float64 eval-mode projections), cluster<e>.seed [] i64 (numpy's seed before `cluster()`: the
  first of CLUSTER_SEED + e + 1000·j whose k-means never refills an empty cluster with a torch draw),
  cluster<e>.subclasses [N] i64 (e: the 0-based epoch of the second half),
  queue32 / queue64 [128, K] f32, queue_l / queue_t [K] i64, queue_ptr [] i64 (after the last step),
  end.<name> [2, R] f64: for every floating state entry, the projections of the displacement
  (final − initial) of the float64 run (row 0) and of the float32 run (row 1) on R formula
  directions u(t, ·) with t = 200000 + 64·endseed + j (R = 8, or 64 for entries of at most 4096
  values), endseed.<name> [] i64;
  metadata: the settings, the exact float32 spreads (‖w32 − w64‖ / ‖w64 − w0‖ per group) and their
  projection estimates (what the test computes for ours), and the same measures (exact) of two more
  float32 replays from the same views, draws and subclasses: `threads1_*` (1 thread instead of 2)
  and `scaled_*` (the inputs scaled by 1 + 2^-22: one rounding's worth of difference at the start),
  per group (query, key, running), queue (RMS), cluster<e> (RMS of the projections), kcl and rank
  (root-sum-square of the relative step-loss deviations) and first (the first step's). The test's
  bounds are twice the larger of the golden's and `scaled_*`.

With --ranks 2 (for Tests/StagesTests/MoCoTwoRankTrajectoryParityTests.swift): the same trajectory on
2 ranks — two processes (torch.multiprocessing.spawn, gloo, world size 2, CPU), each with moco.MoCo
under DistributedDataParallel as main.py wraps it (broadcast_buffers on), so `_batch_shuffle_ddp`,
`_batch_unshuffle_ddp`, `concat_all_gather`, DDP's averaged gradients and its broadcast of rank 0's
buffers run as written; the SGD over the DDP model's parameters. The same views, batches, KCL draws
and schedule, regenerated and asserted equal to steps.safetensors (which must exist; it is read,
not written). Rank r takes the contiguous half r of each global batch of 16 (Swift's `rankSlice`;
main.py's DistributedSampler deals an epoch's permutation out strided instead, an equally random
split of the same 16 images), its queries' columns of the draw-major [6, 16] KCL draws, and the
key permutation of each step drawn once from np.random.RandomState(SHUFFLE_SEED) and fed to
torch.randperm (rank 0's is broadcast). main.cluster() runs on every rank over the whole data, as
main.py does; main.py leaves each rank's numpy unseeded (each rank's k-means starts elsewhere), here
both ranks seed it alike (the first seed whose k-means refills no empty cluster on either rank) and
their subclasses are asserted equal, as ours shares one clustering between the ranks. Runs float32,
float64 and the float32 path with scaled inputs (SKIP_ALTERNATIVES drops it). Writes
Tests/StagesTests/Fixtures/moco_trajectory/ranks2.safetensors: shuffle [S, B] i64 and the figures
listed above (lr, loss, loss64, rank, cluster<e>.features/.features64/.seed/.subclasses, queue32,
queue64, queue_l, queue_t, queue_ptr, end.*, endseed.*; metadata: ranks, the spreads, scaled_*,
rank1_running_vs_rank0 = ‖rank 1's own running statistics − rank 0's‖ / ‖rank 0's‖ after the last
step), from rank 0's model; the ranks' weights and queues are asserted equal. THREADS is per rank
(default 1), MASTER_PORT + 1 the group's port. About 16 minutes on 2 busy cores.

Usage: SBCL_REF=<checkout of JackHck/SBCL> PYTHONPATH=<torchvision> /work/venv-torch/bin/python \
           scripts/fidelity/moco_trajectory_reference.py [--ranks 2]
Env: EPOCHS (8) BATCH (16) K (64) LR (0.06) STEP (2) M (12) MOMENTUM (0.999); OUT (another folder);
THREADS (2); SKIP_ALTERNATIVES=1 (no extra float32 replays: the test then lacks its scaled_* figures).
About 10 minutes on 2 busy cores. torchvision is used for `resnet18` only (its pure-Python models
import without its compiled ops).
"""
import gzip
import math
import os
import sys

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torchvision
import torchvision.transforms as T
from PIL import Image
from safetensors.torch import save_file

REF = os.environ.get("SBCL_REF", "/work/ref/SBCL")
torch.Tensor.cuda = lambda self, *a, **k: self
nn.Module.cuda = lambda self, *a, **k: self
torch.cuda.FloatTensor = torch.FloatTensor
sys.path.insert(0, os.path.join(REF, "moco"))
if "tqdm" not in sys.modules:  # kmean_gpu imports tqdm for a progress bar it shows only with tqdm_flag
    try:
        import tqdm  # noqa: F401
    except ImportError:
        import types
        sys.modules["tqdm"] = types.SimpleNamespace(tqdm=None)
import moco  # noqa: E402  (the authors' MoCo)
import loss as L  # noqa: E402  (moco/loss.py)
import kmean_gpu  # noqa: E402  (moco/kmean_gpu.py, main.py's `kmeans`)

RANKS = int(sys.argv[sys.argv.index("--ranks") + 1]) if "--ranks" in sys.argv else 1
os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
os.environ.setdefault("MASTER_PORT", "29547")
if __name__ == "__main__" and RANKS == 1:
    dist.init_process_group("gloo", rank=0, world_size=1)
    torch.set_num_threads(int(os.environ.get("THREADS", 2)))

E = int(os.environ.get("EPOCHS", 8)); B = int(os.environ.get("BATCH", 16)); K = int(os.environ.get("K", 64))
LR = float(os.environ.get("LR", 0.06)); STEP = int(os.environ.get("STEP", 2)); M = int(os.environ.get("M", 12))
MOM = float(os.environ.get("MOMENTUM", 0.999))
DIM, TEMP, DRAWS, BASE, R, CLUSTER_SEED, SIZE = 128, 0.07, 6, 3, 8, 100, 32
COUNTS = [48, 32, 22, 14, 12]
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
OUT = os.environ.get("OUT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "StagesTests",
                                            "Fixtures", "moco_trajectory")
os.makedirs(OUT, exist_ok=True)


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "goldens"))
from closed_formula import formula, formula_value  # noqa: E402


# The data: real Fashion-MNIST images, long-tailed over 5 classes, sorted by class, tinted.
ROOT = "/usr/share/datasets/fashion-mnist/"
xtr = np.frombuffer(gzip.open(ROOT + "train-images-idx3-ubyte.gz").read(), np.uint8, offset=16).reshape(-1, 28, 28)
ytr = np.frombuffer(gzip.open(ROOT + "train-labels-idx1-ubyte.gz").read(), np.uint8, offset=8).astype(np.int64)
np.random.seed(0)
sel = []
for c, n in enumerate(COUNTS):
    idx = np.where(ytr == c)[0]; np.random.shuffle(idx); sel.append(idx[:n])
sel = np.concatenate(sel)
N = len(sel)
labels = ytr[sel].copy()
tints = np.random.RandomState(1).uniform(0.45, 1.0, size=(N, 3))
torch.manual_seed(2)  # torchvision's draws
aug = T.Compose([T.RandomResizedCrop(SIZE, scale=(0.2, 1.)), T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
                 T.RandomGrayscale(p=0.2), T.RandomHorizontalFlip()])
base = np.zeros((N * BASE, 3, SIZE, SIZE), np.uint8)
for i in range(N):
    img = Image.fromarray((xtr[sel[i]][:, :, None] * tints[i][None, None, :]).round().astype(np.uint8), "RGB")
    for v in range(BASE):
        base[BASE * i + v] = np.array(aug(img)).transpose(2, 0, 1)

# The schedule of inputs: batches, view pairs, KCL draws, re-clustering views.
HALF = E // 2
PER = N // B
S = E * PER
rng = np.random.RandomState(3)
index = np.zeros((S, B), np.int64); qrow = np.zeros((S, B), np.int64); krow = np.zeros((S, B), np.int64)
uniforms = np.zeros((S, DRAWS * B), np.float32)
for e in range(E):
    perm = rng.permutation(N)
    for k in range(PER):
        s = e * PER + k
        ix = perm[k * B:(k + 1) * B]
        index[s] = ix
        for j, i in enumerate(ix):
            a, b = rng.choice(BASE, 2, replace=False)
            qrow[s, j], krow[s, j] = BASE * i + a, BASE * i + b
        if e < HALF:
            u = rng.randint(0, 1 << 24, size=DRAWS * B).astype(np.float64)
            uniforms[s] = (u * 2.0 ** -24).astype(np.float32)
cluster_epochs = [e for e in range(HALF, E) if (e - HALF) % STEP == 0]
cluster_view = {e: BASE * np.arange(N) + rng.randint(0, BASE, size=N) for e in cluster_epochs}
ncl = [max(1, t // max(min(COUNTS), M)) for t in COUNTS]


def initial_model():
    torch.manual_seed(0)
    m = moco.MoCo(torchvision.models.resnet18, sum(ncl), DIM, K, MOM, TEMP, True)
    with torch.no_grad():
        for t, (name, tensor) in enumerate(m.encoder_q.state_dict().items()):
            if tensor.dtype == torch.float32:
                tensor.copy_(formula_value(name, tuple(tensor.shape), t))
        for pq, pk in zip(m.encoder_q.parameters(), m.encoder_k.parameters()):
            pk.data.copy_(pq.data)
        q0 = nn.functional.normalize(torch.from_numpy(formula(30000, DIM * K).reshape(DIM, K)), dim=0).float()
        m.queue.copy_(q0)
    return m


initial = {k: v.detach().clone() for k, v in initial_model().state_dict().items()}


def to_input(rows, dtype):
    x = torch.from_numpy(base[rows]).float().div(255)
    x = x.sub(torch.tensor(MEAN)[:, None, None]).div(torch.tensor(STD)[:, None, None])
    return x.to(dtype)


class FedRand:
    """Stands in for torch.rand(n, device=...): the next n stored uniforms."""

    def __init__(self, values):
        self.values, self.at = torch.from_numpy(values), 0

    def __call__(self, n, device=None, **kw):
        out = self.values[self.at:self.at + n].clone()
        assert out.numel() == n
        self.at += n
        return out


def cluster(m, rows, dtype):
    """main.cluster() on given views (numpy's global generator seeded by the caller)."""
    m.eval()
    with torch.no_grad():  # main.py's train_loader_cluster: batch_size·5, in order
        feats = torch.cat([m(im_q=to_input(rows[k:k + 5 * B], dtype)) for k in range(0, N, 5 * B)])
    parts = torch.split(feats, COUNTS, dim=0)
    target = []
    for c in range(len(COUNTS)):
        if ncl[c] > 1:
            ids, _ = kmean_gpu.kmeans(X=parts[c], num_clusters=ncl[c], distance="cosine", tol=1e-3, iter_limit=35,
                                      tqdm_flag=False, device=torch.device("cpu"))
        else:
            ids = torch.zeros(1, parts[c].size()[0], dtype=torch.int).squeeze(0)
        target.append(torch.add(ids, sum(ncl[:c])))
    return feats.float(), torch.cat(target).long().numpy()


def run(dtype, script=None, threads=None, scale=1.0):
    """The whole trajectory. Without `script` the subclasses come from its own k-means (the golden
    run, float32); with one, from the script (the float64 replay)."""
    m = initial_model().to(dtype)
    torch.set_num_threads(threads or int(os.environ.get("THREADS", 2)))
    torch.manual_seed(4)  # the shuffle-BN permutations (one rank: they change no batch statistic)
    rec = script or {"clusters": {}}
    features, losses, lrs, ranks = {}, [], [], []
    sub = -np.ones(N, np.int64)
    s = 0
    for half in (0, 1):
        optimizer = torch.optim.SGD(m.parameters(), LR, momentum=0.9, weight_decay=1e-4)
        for e in range(HALF):
            epoch = half * HALF + e
            lr = LR * 0.5 * (1. + math.cos(math.pi * e / HALF))  # adjust_learning_rate
            for g in optimizer.param_groups:
                g["lr"] = lr
            criterion = L.KCL(K=K, k=DRAWS, temperature=TEMP) if half == 0 else L.SupConLoss_rank(K=K, temperature=TEMP)
            if half == 1 and e % STEP == 0:
                if script is None:
                    for seed in range(CLUSTER_SEED + e, CLUSTER_SEED + e + 100000, 1000):
                        empty, randint = [], torch.randint
                        torch.randint = lambda *a, **k: empty.append(1) or randint(*a, **k)
                        try:
                            np.random.seed(seed)
                            feats, sub = cluster(m, cluster_view[epoch], dtype)
                        finally:
                            torch.randint = randint
                        if not empty:
                            break
                    rec["clusters"][epoch] = (sub, seed)
                else:
                    m.eval()
                    with torch.no_grad():
                        rows = cluster_view[epoch]
                        feats = torch.cat([m(im_q=to_input(rows[k:k + 5 * B], dtype)) for k in range(0, N, 5 * B)]).float()
                    sub = rec["clusters"][epoch][0]
                features[epoch] = feats.numpy()
            m.train()
            for k in range(PER):
                ix = index[s]
                y = torch.from_numpy(labels[ix])
                logits, queue_l, queue_t = m(im_q=to_input(qrow[s], dtype) * scale, im_k=to_input(krow[s], dtype) * scale,
                                             labels=torch.from_numpy(sub[ix]), true_labels=y)
                if half == 0:
                    saved, torch.rand = torch.rand, FedRand(uniforms[s])
                    try:
                        value = criterion(logits, y, queue_t)
                        assert torch.rand.at == DRAWS * B
                    finally:
                        torch.rand = saved
                else:
                    value = criterion(logits, y, queue_t, torch.from_numpy(sub[ix]), queue_l)
                optimizer.zero_grad(); value.backward(); optimizer.step()
                losses.append(value.item()); lrs.append(lr); ranks.append(half); s += 1
    return rec, m, features, np.array(losses), np.array(lrs), np.array(ranks)


def group(name):
    if name.startswith("queue"):
        return None
    if "running" in name:
        return "running"
    if name.endswith("num_batches_tracked"):
        return None
    return "query" if name.startswith("encoder_q.") else "key"


# ---- Two ranks (--ranks 2): the same trajectory under DistributedDataParallel with shuffle BN. ----
SHUFFLE_SEED = 5  # the shuffle-BN permutations, fed to torch.randperm on every rank (rank 0's is broadcast)


def shuffles():
    r = np.random.RandomState(SHUFFLE_SEED)
    return np.stack([r.permutation(B) for _ in range(S)]).astype(np.int64)


def run_ddp(rank, dtype, script=None, scale=1.0):
    """The whole trajectory on rank `rank` of 2: moco.MoCo under DistributedDataParallel (gloo,
    broadcast_buffers as main.py leaves it), this rank's contiguous half of every global batch,
    main.py's cluster() on every rank on the whole data. Returns what the 1-rank run() returns."""
    from torch.nn.parallel import DistributedDataParallel as DDP
    half_b = B // 2
    lo, hi = rank * half_b, (rank + 1) * half_b  # rankSlice(of: B, rank, size: 2)
    m = initial_model().to(dtype)
    model = DDP(m)
    perms = shuffles()
    rec = script or {"clusters": {}}
    features, losses, lrs, ranks = {}, [], [], []
    sub = -np.ones(N, np.int64)
    s = 0
    for half in (0, 1):
        optimizer = torch.optim.SGD(model.parameters(), LR, momentum=0.9, weight_decay=1e-4)  # main.py: the DDP model's
        for e in range(HALF):
            epoch = half * HALF + e
            lr = LR * 0.5 * (1. + math.cos(math.pi * e / HALF))
            for g in optimizer.param_groups:
                g["lr"] = lr
            criterion = L.KCL(K=K, k=DRAWS, temperature=TEMP) if half == 0 else L.SupConLoss_rank(K=K, temperature=TEMP)
            if half == 1 and e % STEP == 0:
                if script is None:
                    for seed in range(CLUSTER_SEED + e, CLUSTER_SEED + e + 100000, 1000):
                        empty, randint = [], torch.randint
                        torch.randint = lambda *a, **k: empty.append(1) or randint(*a, **k)
                        try:
                            np.random.seed(seed)  # the same on both ranks (main.py leaves each rank's numpy unseeded)
                            feats, sub = cluster(model, cluster_view[epoch], dtype)
                        finally:
                            torch.randint = randint
                        flag = torch.tensor([float(bool(empty))], dtype=torch.float64)
                        dist.all_reduce(flag)
                        if flag.item() == 0:
                            break
                    rec["clusters"][epoch] = (sub, seed)
                else:
                    model.eval()
                    with torch.no_grad():
                        rows = cluster_view[epoch]
                        feats = torch.cat([model(im_q=to_input(rows[k:k + 5 * B], dtype)) for k in range(0, N, 5 * B)]).float()
                    sub = rec["clusters"][epoch][0]
                both = [torch.zeros(N, dtype=torch.int64) for _ in range(2)]
                dist.all_gather(both, torch.from_numpy(np.asarray(sub, np.int64)))
                assert torch.equal(both[0], both[1]), "the ranks' subclasses differ"
                features[epoch] = feats.numpy()
            model.train()
            for k in range(PER):
                ix = index[s][lo:hi]
                y = torch.from_numpy(labels[ix])
                fed, randperm = torch.from_numpy(perms[s]), torch.randperm
                torch.randperm = lambda n, *a, **kw: fed.clone() if n == B else randperm(n, *a, **kw)
                try:
                    logits, queue_l, queue_t = model(im_q=to_input(qrow[s][lo:hi], dtype) * scale,
                                                     im_k=to_input(krow[s][lo:hi], dtype) * scale,
                                                     labels=torch.from_numpy(sub[ix]), true_labels=y)
                finally:
                    torch.randperm = randperm
                if half == 0:
                    # This rank's queries' draws: the global draw-major [k, B] block's columns lo..hi.
                    saved, torch.rand = torch.rand, FedRand(np.ascontiguousarray(uniforms[s].reshape(DRAWS, B)[:, lo:hi]).reshape(-1))
                    try:
                        value = criterion(logits, y, queue_t)
                        assert torch.rand.at == DRAWS * half_b
                    finally:
                        torch.rand = saved
                else:
                    value = criterion(logits, y, queue_t, torch.from_numpy(sub[ix]), queue_l)
                optimizer.zero_grad(); value.backward(); optimizer.step()
                total = torch.tensor([value.item()], dtype=torch.float64)
                dist.all_reduce(total)  # the global batch's loss: the mean of the two ranks' means
                losses.append(total.item() / 2); lrs.append(lr); ranks.append(half); s += 1
    return rec, m, features, np.array(losses), np.array(lrs), np.array(ranks)


def float32_figures(final, feats, losses, final64, feats64, loss64, ranks):
    """The test's measures of a float32 run against the float64 one (exact spreads, not projected)."""
    names = list(initial.keys())
    out = {}
    for g in ("query", "key", "running"):
        num = sum(((final[k].double() - final64[k].double()) ** 2).sum().item() for k in names if group(k) == g)
        den = sum(((final64[k].double() - initial[k].double()) ** 2).sum().item() for k in names if group(k) == g)
        out[g] = (num / den) ** 0.5
    out["queue"] = ((final["queue"].double() - final64["queue"].double()) ** 2).mean().sqrt().item()
    for epoch in feats:
        out[f"cluster{epoch - HALF}"] = float(np.sqrt(((feats[epoch].astype(np.float64) - feats64[epoch]) ** 2).mean()))
    rel = (losses - loss64) / loss64
    out["kcl"], out["rank"] = (float(np.sqrt((rel[ranks == h] ** 2).sum())) for h in (0, 1))
    out["first"] = abs(float(rel[0]))
    return out


def end_point_projections(final32, final64):
    """No weights are stored: per state entry, float64's displacement (final - initial) and the float32
    run's projected on formula directions (`end.<name>`, `endseed.<name>`), and per group the float32
    run's exact and projected distance from float64 over float64's displacement (the metadata's
    `spread32_<group>`, `estimate32_<group>`)."""
    tensors, num, den, pnum, pden = {}, {}, {}, {}, {}
    for t, name in enumerate(initial.keys()):
        g = group(name)
        if g is None:
            continue
        w0, w32, w64 = initial[name].double().flatten(), final32[name].double().flatten(), final64[name].double().flatten()
        num[g] = num.get(g, 0.0) + ((w32 - w64) ** 2).sum().item()
        den[g] = den.get(g, 0.0) + ((w64 - w0) ** 2).sum().item()
        directions = R if w0.numel() > 4096 else 8 * R  # more for the small tensors: the estimate's noise
        proj = np.zeros((2, directions))
        for j in range(directions):
            r = torch.from_numpy(formula(200000 + 64 * t + j, w0.numel()))
            proj[0, j] = ((w64 - w0) * r).sum().item()
            proj[1, j] = ((w32 - w0) * r).sum().item()
        pnum[g] = pnum.get(g, 0.0) + ((proj[1] - proj[0]) ** 2).sum()
        pden[g] = pden.get(g, 0.0) + (proj[0] ** 2).sum()
        tensors[f"end.{name}"] = torch.from_numpy(proj)
        tensors[f"endseed.{name}"] = torch.tensor(t, dtype=torch.int64)
    spreads = {}
    for g in num:
        spreads[f"spread32_{g}"] = repr(float((num[g] / den[g]) ** 0.5))
        spreads[f"estimate32_{g}"] = repr(float((pnum[g] / pden[g]) ** 0.5))
    return tensors, spreads


def worker(rank, folder, port, threads):
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.set_num_threads(threads)
    out = {}
    rec, m32, f32, l32, lrs, rk = run_ddp(rank, torch.float32)
    out["golden"] = (m32.state_dict(), f32, l32)
    _, m64, f64, l64, _, _ = run_ddp(rank, torch.float64, rec)
    out["exact"] = (m64.state_dict(), f64, l64)
    if not os.environ.get("SKIP_ALTERNATIVES"):
        _, ma, fa, la, _, _ = run_ddp(rank, torch.float32, rec, scale=1.0 + 2.0 ** -22)
        out["scaled"] = (ma.state_dict(), fa, la)
    out.update(rec=rec, lrs=lrs, ranks=rk)
    torch.save(out, os.path.join(folder, f"rank{rank}.pt"))
    dist.destroy_process_group()


def main_ranks2():
    import tempfile
    import time
    import torch.multiprocessing as mp
    from safetensors.torch import load_file
    started = time.time()
    # The 1-rank fixture holds the views and the schedule; this mode stores only what two ranks change.
    one = load_file(os.path.join(OUT, "steps.safetensors"))
    assert np.array_equal(one["base"].numpy(), base) and np.array_equal(one["index"].numpy(), index)
    assert np.array_equal(one["query"].numpy(), qrow) and np.array_equal(one["key"].numpy(), krow)
    assert np.array_equal(one["uniforms"].numpy(), uniforms) and np.array_equal(one["labels"].numpy(), labels)
    assert torch.equal(one["queue.initial"], initial["queue"])
    for e in cluster_epochs:
        assert np.array_equal(one[f"cluster{e - HALF}.view"].numpy(), cluster_view[e])
    folder = tempfile.mkdtemp(prefix="moco-ranks2-")
    mp.spawn(worker, args=(folder, int(os.environ.get("MASTER_PORT", 29547)) + 1, int(os.environ.get("THREADS", 1))), nprocs=2)
    r0, r1 = (torch.load(os.path.join(folder, f"rank{r}.pt"), weights_only=False) for r in (0, 1))
    fin = {label: {k: v.detach().clone() for k, v in r0[label][0].items()} for label in r0 if label in ("golden", "exact", "scaled")}
    # The ranks' parameters and queues are the same (DDP's averaged gradients); their batch-norm
    # buffers differ after the last step (each rank's own batch; rank 0's go out at the next forward).
    other = r1["golden"][0]
    for name, value in fin["golden"].items():
        if group(name) in ("query", "key") or name.startswith("queue"):
            assert torch.equal(value, other[name]), name
    running = [k for k in fin["golden"] if group(k) == "running"]
    rank1_running = (sum(((other[k].double() - fin["golden"][k].double()) ** 2).sum().item() for k in running)
                     / sum((fin["golden"][k].double() ** 2).sum().item() for k in running)) ** 0.5
    assert np.array_equal(r0["golden"][2], r1["golden"][2])
    final32, final64 = fin["golden"], fin["exact"]
    feats32, feats64 = r0["golden"][1], r0["exact"][1]
    loss32, loss64, lrs, ranks, rec = r0["golden"][2], r0["exact"][2], r0["lrs"], r0["ranks"], r0["rec"]

    tensors, spreads = end_point_projections(final32, final64)
    meta = {"ranks": "2", "epochs": str(E), "batch": str(B), "queue_size": str(K), "lr": repr(LR), "step": str(STEP),
            "min_cluster_size": str(M), "key_momentum": repr(MOM), "directions": str(R), "torch": torch.__version__,
            "shuffle_seed": str(SHUFFLE_SEED), "rank1_running_vs_rank0": repr(rank1_running), **spreads}
    if "scaled" in fin:
        for key, value in float32_figures(fin["scaled"], r0["scaled"][1], r0["scaled"][2], final64, feats64, loss64, ranks).items():
            meta[f"scaled_{key}"] = repr(value)
    golden = float32_figures(final32, feats32, loss32, final64, feats64, loss64, ranks)
    meta["queue_rms32"] = repr(golden["queue"])
    tensors.update({
        "shuffle": torch.from_numpy(shuffles()), "lr": torch.from_numpy(lrs.astype(np.float64)),
        "loss": torch.from_numpy(loss32.astype(np.float64)), "loss64": torch.from_numpy(loss64.astype(np.float64)),
        "rank": torch.from_numpy(ranks.astype(np.int64)),
        "queue32": final32["queue"].float().contiguous(), "queue64": final64["queue"].float().contiguous(),
        "queue_l": final64["queue_l"].flatten().clone(), "queue_t": final64["queue_t"].flatten().clone(),
        "queue_ptr": final64["queue_ptr"].flatten().clone(),
    })
    assert torch.equal(final32["queue_l"], final64["queue_l"]) and torch.equal(final32["queue_t"], final64["queue_t"])
    for epoch, (sub, seed) in rec["clusters"].items():
        e = epoch - HALF
        tensors[f"cluster{e}.features"] = torch.from_numpy(feats32[epoch]).contiguous()
        tensors[f"cluster{e}.features64"] = torch.from_numpy(feats64[epoch].astype(np.float32)).contiguous()
        tensors[f"cluster{e}.seed"] = torch.tensor(seed, dtype=torch.int64)
        tensors[f"cluster{e}.subclasses"] = torch.from_numpy(np.asarray(sub, np.int64))
        meta[f"cluster{e}_rms32"] = repr(golden[f"cluster{e}"])
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "ranks2.safetensors"), metadata=meta)
    print({k: v for k, v in meta.items() if "spread" in k or "estimate" in k or "rms" in k or "rank1" in k})
    print("golden float32", {k: f"{v:.3g}" for k, v in golden.items()})
    print("scaled", {k[7:]: f"{float(v):.3g}" for k, v in meta.items() if k.startswith("scaled_")})
    print("steps", S, "first loss", loss32[0], loss64[0], "losses", np.round(loss64, 3).tolist())
    print("subclass counts", {e: np.bincount(c[0]).tolist() for e, c in rec["clusters"].items()},
          "seeds", {e: c[1] for e, c in rec["clusters"].items()})
    print(f"{time.time() - started:.0f} s")


if __name__ == "__main__" and RANKS == 2:
    main_ranks2()

if __name__ == "__main__" and RANKS == 1:
    rec, m32, feats32, loss32, lrs, ranks = run(torch.float32)
    _, m64, feats64, loss64, _, _ = run(torch.float64, rec)
    final32 = {k: v.detach().clone() for k, v in m32.state_dict().items()}
    final64 = {k: v.detach().clone() for k, v in m64.state_dict().items()}
    # Other float32 paths of the same arithmetic, for the spread among float32 implementations: one
    # thread instead of two (other reduction splits), and the inputs scaled by 1 + 2^-22 (a rounding's
    # worth of difference at the start). Their deviations from float64 are reported beside the golden's.
    alternatives = {}
    if not os.environ.get("SKIP_ALTERNATIVES"):
        for label, kw in [("threads1", {"threads": 1}), ("scaled", {"scale": 1.0 + 2.0 ** -22})]:
            _, ma, fa, la, _, _ = run(torch.float32, rec, **kw)
            alternatives[label] = ({k: v.detach().clone() for k, v in ma.state_dict().items()}, fa, la)


    tensors, spreads = end_point_projections(final32, final64)
    meta = {"epochs": str(E), "batch": str(B), "queue_size": str(K), "lr": repr(LR), "step": str(STEP), "min_cluster_size": str(M),
            "key_momentum": repr(MOM), "directions": str(R), "base_views": str(BASE), "torch": torch.__version__,
            "mean": ",".join(map(repr, MEAN)), "std": ",".join(map(repr, STD)), **spreads}
    for label, (fa, feats_a, la) in alternatives.items():
        for key, value in float32_figures(fa, feats_a, la, final64, feats64, loss64, ranks).items():
            meta[f"{label}_{key}"] = repr(value)
    golden_figures = float32_figures(final32, feats32, loss32, final64, feats64, loss64, ranks)
    q32, q64 = final32["queue"].double(), final64["queue"].double()
    meta["queue_rms32"] = repr(((q32 - q64) ** 2).mean().sqrt().item())

    tensors.update({
        "base": torch.from_numpy(base), "labels": torch.from_numpy(labels), "queue.initial": initial["queue"].contiguous(),
        "index": torch.from_numpy(index), "query": torch.from_numpy(qrow), "key": torch.from_numpy(krow),
        "uniforms": torch.from_numpy(uniforms), "lr": torch.from_numpy(lrs.astype(np.float64)),
        "loss": torch.from_numpy(loss32.astype(np.float64)), "loss64": torch.from_numpy(loss64.astype(np.float64)),
        "rank": torch.from_numpy(ranks.astype(np.int64)),
        "queue32": final32["queue"].float().contiguous(), "queue64": final64["queue"].float().contiguous(),
        "queue_l": final64["queue_l"].flatten().clone(), "queue_t": final64["queue_t"].flatten().clone(),
        "queue_ptr": final64["queue_ptr"].flatten().clone(),
    })
    assert torch.equal(final32["queue_l"], final64["queue_l"]) and torch.equal(final32["queue_t"], final64["queue_t"])
    for epoch, (sub, seed) in rec["clusters"].items():
        e = epoch - HALF
        tensors[f"cluster{e}.view"] = torch.from_numpy(cluster_view[epoch])
        tensors[f"cluster{e}.features"] = torch.from_numpy(feats32[epoch]).contiguous()
        tensors[f"cluster{e}.features64"] = torch.from_numpy(feats64[epoch].astype(np.float32)).contiguous()
        tensors[f"cluster{e}.seed"] = torch.tensor(seed, dtype=torch.int64)
        tensors[f"cluster{e}.subclasses"] = torch.from_numpy(sub.astype(np.int64))
        rms = float(np.sqrt(((feats32[epoch].astype(np.float64) - feats64[epoch]) ** 2).mean()))
        meta[f"cluster{e}_rms32"] = repr(rms)
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(OUT, "steps.safetensors"), metadata=meta)
    rel = (loss32 - loss64) / loss64
    print({k: v for k, v in meta.items() if "spread" in k or "estimate" in k or "rms" in k})
    print("golden float32", {k: f"{v:.3g}" for k, v in golden_figures.items()})
    for label in alternatives:
        print(label, {k[len(label) + 1:]: f"{float(v):.3g}" for k, v in meta.items() if k.startswith(label + "_")})
    print("steps", S, "first loss", loss32[0], loss64[0], "relative", rel[0])
    print("per half: root-sum-square of relative deviations", [float(np.sqrt((rel[ranks == h] ** 2).sum())) for h in (0, 1)])
    print("losses", np.round(loss64, 3).tolist())
    print("subclass counts", {e: np.bincount(c[0]).tolist() for e, c in rec["clusters"].items()}, "seeds", {e: c[1] for e, c in rec["clusters"].items()})
