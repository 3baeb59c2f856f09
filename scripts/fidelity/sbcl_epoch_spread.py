"""SBCL epochs from one fixed state, over training seeds, on either side: is our SBCL-epoch loss
systematically above the authors' from the same state, or within the spread the draws make?

Both sides start from STATE — a plain state dict in the reference's names, e.g. the authors'
warm-up after 3 epochs (`reference_warmup.py OUT --warm 3 --tseed 1`) — with SGD momentum zero,
and run the 0-based epochs FIRST … FIRST+N−1 of the full Fashion-MNIST-LT setting (batch 256,
lr 0.5 cosine over 15 epochs to lr·1e-4, re-clustering when (epoch − 3) % 3 == 0, the SBCL `rank`
loss, the last partial batch dropped as the anchor does). Each seed draws other views, batches
and k-means starts; one JSON line per epoch: {"side", "seed", "epoch" (1-based), "loss", "lr"}.

  --side authors: the anchor's loop (shared/anchors/torch_fmnist_lt.py) from STATE, under
      torch.manual_seed(seed) and np.random.seed(seed).
  --side ours: `sbcl-run recipes/fashion_mnist_lt.yaml seed=<seed>` at the same setting, resumed
      from an encoder checkpoint written here from STATE (epoch FIRST, no momentum, no subclasses)
      and stopped after epoch FIRST+N (SBCL_ENCODER_STOP_AFTER_EPOCH); the losses are read from its log.

Usage: SBCL_REF=<JackHck/SBCL> python sbcl_epoch_spread.py --side authors|ours --state S --seeds 11,12 [--first 3] [--epochs 3]
       [--sbcl-run BIN] [--work DIR] [--threads 1]
"""
import argparse, json, math, os, re, struct, subprocess, sys, time
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--side", choices=["authors", "ours"], required=True)
ap.add_argument("--state", required=True)
ap.add_argument("--seeds", required=True)
ap.add_argument("--first", type=int, default=3, help="0-based epoch the runs start at (3: after the warm-up)")
ap.add_argument("--epochs", type=int, default=3)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--sbcl-run", default=".build/release/sbcl-run")
ap.add_argument("--work", default="runs/fidelity/spread")
args = ap.parse_args()
seeds = [int(s) for s in args.seeds.split(",")]
E, WARM, STEP, B, LR = 15, 3, 3, 256, 0.5
here = os.path.dirname(os.path.abspath(__file__))


def emit(seed, epoch, loss, lr):
    print(json.dumps({"side": args.side, "seed": seed, "epoch": epoch, "loss": loss, "lr": lr}), flush=True)


def authors():
    import torch, torch.nn as nn, torch.nn.functional as F
    import torchvision.transforms as T
    from safetensors.torch import load_file
    torch.set_num_threads(args.threads)
    sys.path.insert(0, os.path.join(here, "..", "goldens"))
    import reference  # noqa: F401  (the authors' SimCLR/ code without a GPU)
    from reference import resnet, loss as L, kmeans_gpu
    sys.path.insert(0, here)
    import fmnist_lt
    xlt, ylt, counts, mean, std = fmnist_lt.load()
    N = len(ylt)
    ncl = [t // max(min(counts), 10) or 1 for t in counts]
    aug = T.Compose([T.ToPILImage(), T.RandomResizedCrop(28, scale=(0.2, 1.)), T.RandomHorizontalFlip(),
                     T.RandomApply([T.ColorJitter(0.4, 0.4)], p=0.8), T.ToTensor(), T.Normalize((mean,), (std,))])
    def batch(ix): return torch.stack([aug(xlt[i]) for i in ix])
    state = load_file(args.state)
    for seed in seeds:
        torch.manual_seed(seed); np.random.seed(seed)
        model = resnet.SupConResNet(feat_dim=128)
        model.encoder.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        model.load_state_dict(state)
        opt = torch.optim.SGD(model.parameters(), LR, momentum=0.9, weight_decay=1e-4)
        sub, density = None, None
        for ep in range(args.first, args.first + args.epochs):
            lr = LR * 1e-4 + (LR - LR * 1e-4) * (1 + math.cos(math.pi * ep / E)) / 2
            for g in opt.param_groups: g["lr"] = lr
            if ep >= WARM and (ep - WARM) % STEP == 0:
                model.eval(); feats = []
                with torch.no_grad():
                    for s in range(0, N, 512): feats.append(model(batch(range(s, min(N, s + 512)))))
                parts = torch.split(torch.cat(feats), counts)
                centers = torch.stack([p.mean(0) for p in parts])
                dens = np.array([F.pairwise_distance(parts[c], centers[c][None], p=2).mean().item() / np.log(len(parts[c]) + 10) for c in range(10)])
                dens = dens.clip(np.percentile(dens, 20), np.percentile(dens, 80)); dens = 0.1 * dens / dens.mean()
                for c in range(10):
                    if ncl[c] == 1: dens[c] = 0.1
                density, tg, off = dens, [], 0
                for c in range(10):
                    ids = kmeans_gpu.kmeans(X=parts[c], num_clusters=ncl[c], distance="cosine", tol=1e-3, iter_limit=35,
                                            tqdm_flag=False)[0] if ncl[c] > 1 else torch.zeros(len(parts[c]), dtype=torch.long)
                    tg.append(ids.long() + off); off += ncl[c]
                sub = torch.cat(tg).numpy()
            assert sub is not None, "the first epoch must re-cluster (start at 3, 6, 9 or 12)"
            model.train(); perm = np.random.permutation(N); tot, nb = 0.0, 0
            for s in range(0, N - B + 1, B):
                ix = perm[s:s + B]
                x = torch.cat([batch(ix), batch(ix)]); y = torch.from_numpy(ylt[ix])
                f = model(x); f1, f2 = torch.split(f, [len(ix), len(ix)])
                l = L.SupConLoss_rank(num_class=10, ranking_temperature=density)(torch.cat([f1[:, None], f2[:, None]], 1), y,
                                                                                 torch.from_numpy(sub[ix]))
                opt.zero_grad(); l.backward(); opt.step(); tot += l.item(); nb += 1
            emit(seed, ep + 1, tot / nb, lr)


def ours():
    from safetensors.numpy import load_file, save_file
    repo = os.path.abspath(os.path.join(here, "..", ".."))
    binary = os.path.abspath(args.sbcl_run)
    work = os.path.abspath(args.work); os.makedirs(work, exist_ok=True)
    state = load_file(args.state)
    overrides = ["stages.data.per_class_limit=0", "stages.encoder.epochs=15", "stages.clusters.warmup_epochs=3",
                 "stages.clusters.every=3", "stages.encoder.batch_size=256", "stages.encoder.learning_rate=0.5",
                 "stages.encoder.checkpoint_every=15", "stages.encoder.drop_last=true",
                 "stages.views.color_jitter=[0.4,0.4,0,0]", "stages.loss.variant=rank"]
    recipe = os.path.join(repo, "recipes", "fashion_mnist_lt.yaml")
    env = dict(os.environ, SBCL_CACHE_DIR=os.path.join(work, "cache"))
    for seed in seeds:
        point = [f"seed={seed}"] + overrides
        plan = json.loads(subprocess.run([binary, "plan", recipe, *point, "--json"], env=env, check=True,
                                         capture_output=True, text=True, cwd=work).stdout)
        encoder = next(s for s in plan["stages"] if s["name"] == "encoder")["hash"]
        folder = os.path.join(work, "cache", "checkpoints", encoder); os.makedirs(folder, exist_ok=True)
        # Our checkpoint after epoch FIRST: STATE's network, no momentum (a fresh SGD, as the
        # authors' side), no subclasses yet (epoch FIRST+1 re-clusters), a k-means generator of its own.
        rng = np.random.RandomState(seed)
        words = np.append(rng.get_state()[1].astype(np.int64), 624)
        tensors = {"model." + k: v for k, v in state.items()}
        tensors.update({"subclasses": np.zeros(0, np.int32), "class_temperatures": np.zeros(0, np.float32),
                        "kmeans_generator": words})
        meta = {"format_version": "1", "epoch": str(args.first), "ranks": "1",
                "last_loss": str(struct.unpack("<Q", struct.pack("<d", float("nan")))[0])}
        save_file(tensors, os.path.join(folder, "encoder-checkpoint.safetensors"), metadata=meta)
        last = args.first + args.epochs
        run = subprocess.run([binary, recipe, *point, "--threads", str(args.threads)], cwd=work, capture_output=True, text=True,
                             env=dict(env, SBCL_ENCODER_STOP_AFTER_EPOCH=str(last)))
        lines = re.findall(r"epoch (\d+)/15\s+loss ([0-9.]+)\s+lr ([0-9.e-]+)", run.stderr)
        if len(lines) != args.epochs:
            sys.exit(f"seed {seed}: expected {args.epochs} epochs in the log, got {lines}\n{run.stderr[-2000:]}")
        for epoch, loss, lr in lines: emit(seed, int(epoch), float(loss), float(lr))


authors() if args.side == "authors" else ours()
