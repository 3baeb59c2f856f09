"""Probe: the authors' first SupCon epoch on given views, and statistics of the views.

Runs the authors' SupConResNet + SupConLoss (SimCLR/, through scripts/goldens/reference.py) from a
state dict (e.g. runs/fidelity/init/authors-init-seed1.safetensors) for one epoch at lr 0.5 on the
8-bit views of a file — ours (Tests/DatasetsTests/ViewDumpProbe.swift writes them) or torchvision's
(trajectory_reference.py's steps.safetensors) — and prints the step losses, so the two kinds of
views can be told apart by what they do to training, not only by their pixels.

Usage: SBCL_REF=<JackHck/SBCL> python views_probe.py INIT VIEWS.safetensors [VIEWS2 ...] [--steps 58] [--train]
"""
import argparse, os, sys
import numpy as np, torch, torch.nn as nn
from safetensors.numpy import load_file

ap = argparse.ArgumentParser()
ap.add_argument("init"); ap.add_argument("views", nargs="+")
ap.add_argument("--steps", type=int, default=58); ap.add_argument("--train", action="store_true")
ap.add_argument("--threads", type=int, default=1)
args = ap.parse_args()
torch.set_num_threads(args.threads)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "goldens"))
import reference  # noqa: E402,F401
from reference import resnet, loss as L  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist_lt  # noqa: E402
xlt, ylt, counts, mean, std = fmnist_lt.load()
mean, std = float(mean), float(std)

for path in args.views:
    f = load_file(path)
    v = f["views"][:args.steps]
    B = v.shape[1] // 2
    lab = f["labels"][:args.steps]
    idx = f["indices"][:args.steps]
    ok = (lab[lab >= 0] == ylt[idx[idx >= 0]]).all()
    v1, v2 = v[:, :B].astype(np.float64), v[:, B:].astype(np.float64)
    src = xlt[idx.clip(0)].astype(np.float64)
    print(f"{os.path.basename(path)}: {v.shape[0]} steps, labels match the images: {ok}")
    print(f"  pixel mean {v.mean():.2f} (sources {src.mean():.2f}), std {v.std():.2f}, zero pixels {np.mean(v == 0):.3f}, "
          f"view-pair mean |v1 - v2| {np.abs(v1 - v2).mean():.2f}, per-view mean-intensity sd {v.reshape(-1, 784).mean(1).std():.2f}")
    counts_b = np.array([np.bincount(l[l >= 0], minlength=10) for l in lab])
    print(f"  images of class 0 per batch: mean {counts_b[:, 0].mean():.1f} sd {counts_b[:, 0].std():.2f}; class 9: {counts_b[:, 9].mean():.2f}")
    if not args.train:
        continue
    torch.manual_seed(0)
    model = resnet.SupConResNet(feat_dim=128)
    model.encoder.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
    from safetensors.torch import load_file as tload
    missing, unexpected = model.load_state_dict(tload(args.init), strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing)
    opt = torch.optim.SGD(model.parameters(), 0.5, momentum=0.9, weight_decay=1e-4)
    model.train(); losses = []
    for s in range(v.shape[0]):
        n = int((lab[s] >= 0).sum())
        u8 = np.concatenate([v[s, :n], v[s, B:B + n]])
        x = ((torch.from_numpy(u8).float().div(255) - mean) / std).unsqueeze(1)
        out = model(x); f1, f2 = torch.split(out, [n, n])
        l = L.SupConLoss(temperature=0.1)(torch.cat([f1[:, None], f2[:, None]], 1), torch.from_numpy(lab[s, :n]))
        opt.zero_grad(); l.backward(); opt.step(); losses.append(l.item())
    print(f"  authors' code on these views: epoch loss {np.mean(losses):.4f}; steps " + " ".join(f"{x:.3f}" for x in losses[::3]), flush=True)
