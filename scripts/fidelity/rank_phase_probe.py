"""Probe of the first SBCL epoch after the SupCon warm-up, in the authors' code, from OUR checkpoint.

Loads an `encoder-checkpoint.safetensors` that `sbcl-run` wrote at the end of the warm-up (the
reference's state-dict names under `model.`, SGD momentum under `momentum.`) into the anchor's
network (`SimCLR/` SupConResNet with the 1-channel stem of shared/anchors/torch_fmnist_lt.py) and
its SGD, then runs the next epoch as the anchor does: re-clustering with the reference's
`cluster()` arithmetic (eval-mode projections of augmented views, class densities, per-class
cosine k-means from `kmeans_gpu`), then one epoch of `SupConLoss_rank`. Prints the class
temperatures, cluster sizes, the loss of every step and the epoch mean, so they can be set beside
ours from the same checkpoint (the next epoch of the same `sbcl-run`).

  --clusters ours:FILE   use the subclasses and temperatures of our checkpoint FILE (written after
                         the probed epoch, so it holds the re-clustering that epoch used) instead
                         of the reference's re-clustering; both sides index images the same way
                         (class by class, numpy's selection order).
  --lr0                  evaluate the epoch's losses without updating the weights.

Usage: SBCL_REF=<JackHck/SBCL checkout> python rank_phase_probe.py CHECKPOINT EPOCH [--clusters ...]
EPOCH is our 1-based epoch being probed (4 for the first SBCL epoch at warm-up 3).
"""
import argparse, json, math, os, sys
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
import torchvision.transforms as T
from safetensors.torch import load_file

ap = argparse.ArgumentParser()
ap.add_argument("checkpoint"); ap.add_argument("epoch", type=int)
ap.add_argument("--clusters", default="reference"); ap.add_argument("--lr0", action="store_true")
ap.add_argument("--until", type=int, default=0, help="run epochs EPOCH..UNTIL (re-clustering every --step after --warm)")
ap.add_argument("--warm", type=int, default=3); ap.add_argument("--step", type=int, default=3)
ap.add_argument("--seed", type=int, default=0); ap.add_argument("--epochs", type=int, default=15)
ap.add_argument("--lr", type=float, default=0.5); ap.add_argument("--batch", type=int, default=256)
ap.add_argument("--drop-last", action="store_true"); ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
torch.set_num_threads(args.threads)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "goldens"))
import reference  # noqa: E402,F401  (the authors' SimCLR/ code, importable without a GPU)
from reference import resnet, loss as L, kmeans_gpu  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist_lt  # noqa: E402
xlt, ylt, counts, mean, std = fmnist_lt.load()
np.random.seed(args.seed); torch.manual_seed(args.seed)
aug = T.Compose([T.ToPILImage(), T.RandomResizedCrop(28, scale=(0.2, 1.)), T.RandomHorizontalFlip(),
                 T.RandomApply([T.ColorJitter(0.4, 0.4)], p=0.8), T.ToTensor(), T.Normalize((mean,), (std,))])

model = resnet.SupConResNet(feat_dim=128)
model.encoder.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
state = load_file(args.checkpoint)
missing = model.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("model.")}, strict=True)
opt = torch.optim.SGD(model.parameters(), args.lr, momentum=0.9, weight_decay=1e-4)
named = dict(model.named_parameters())
loaded = 0
for name, p in named.items():
    if "momentum." + name in state:
        opt.state[p]["momentum_buffer"] = state["momentum." + name].clone(); loaded += 1
print(json.dumps({"checkpoint": args.checkpoint, "momentum_buffers": loaded, "parameters": len(named)}))

N = len(ylt); TEMP = 0.1; B = args.batch
ncl = [t // max(min(counts), 10) or 1 for t in counts]
def batch(ix, tf): return torch.stack([tf(xlt[i]) for i in ix])
for ep in range(args.epoch - 1, (args.until or args.epoch)):
    lr = args.lr * 1e-4 + (args.lr - args.lr * 1e-4) * (1 + math.cos(math.pi * ep / args.epochs)) / 2
    for g in opt.param_groups: g["lr"] = 0.0 if args.lr0 else lr

    if ep == args.epoch - 1 and args.clusters != "reference":
        theirs = load_file(args.clusters.split(":", 1)[1])
        sub = theirs["subclasses"].numpy().astype(np.int64); density = theirs["class_temperatures"].double().numpy()
    elif (ep - args.warm) % args.step == 0:
        model.eval(); feats = []
        with torch.no_grad():
            for s in range(0, N, 512): feats.append(model(batch(range(s, min(N, s + 512)), aug)))
        feats = torch.cat(feats); parts = torch.split(feats, counts)
        centers = torch.stack([p.mean(0) for p in parts])
        raw = np.array([F.pairwise_distance(parts[c], centers[c][None], p=2).mean().item() / np.log(len(parts[c]) + 10) for c in range(10)])
        dens = raw.clip(np.percentile(raw, 20), np.percentile(raw, 80)); dens = TEMP * dens / dens.mean()
        for c in range(10):
            if ncl[c] == 1: dens[c] = TEMP
        tg = []; off = 0
        for c in range(10):
            if ncl[c] > 1:
                ids, _ = kmeans_gpu.kmeans(X=parts[c], num_clusters=ncl[c], distance="cosine", tol=1e-3, iter_limit=35, tqdm_flag=False)
            else:
                ids = torch.zeros(len(parts[c]), dtype=torch.long)
            tg.append(ids.long() + off); off += ncl[c]
        sub = torch.cat(tg).numpy(); density = dens
        print(json.dumps({"raw_density": raw.tolist()}))
    sizes = np.bincount(sub)
    print(json.dumps({"clusters": args.clusters, "temperatures": [round(float(t), 5) for t in density],
                      "subclasses": int(len(sizes)), "size_min": int(sizes.min()), "size_median": float(np.median(sizes)),
                      "size_max": int(sizes.max()), "class0_sizes_sorted": sorted(sizes[:ncl[0]].tolist())}))

    model.train(); perm = np.random.permutation(N); losses = []; sizes_b = []
    last = N - B + 1 if args.drop_last else N
    for s in range(0, last, B):
        ix = perm[s:s + B]
        x = torch.cat([batch(ix, aug), batch(ix, aug)]); y = torch.from_numpy(ylt[ix])
        f = model(x); f1, f2 = torch.split(f, [len(ix), len(ix)]); feats = torch.cat([f1[:, None], f2[:, None]], 1)
        l = L.SupConLoss_rank(num_class=10, ranking_temperature=density)(feats, y, torch.from_numpy(sub[ix]))
        opt.zero_grad(); l.backward(); opt.step(); losses.append(l.item()); sizes_b.append(len(ix))
    print(json.dumps({"epoch": ep + 1, "lr": lr, "lr0": args.lr0, "mean_loss": float(np.average(losses, weights=sizes_b)),
                      "first": [round(v, 4) for v in losses[:5]], "last": [round(v, 4) for v in losses[-5:]]}))
