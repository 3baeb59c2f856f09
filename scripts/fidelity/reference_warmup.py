"""The authors' SupCon warm-up, stopped and saved as a checkpoint OUR `sbcl-run` resumes from.

Runs the first WARM epochs of shared/anchors/torch_fmnist_lt.py exactly as it does them (the same
seeding order, model construction, permutations, torchvision augmentations and dropped last
batch, so its epoch losses equal the anchor's log for the same TSEED), then writes the network
(`model.` + reference state-dict names) and SGD's momentum buffers (`momentum.`) into a copy of
TEMPLATE — an `encoder-checkpoint.safetensors` our run wrote after the same epoch, which supplies
the remaining entries (empty subclasses, the k-means generator, metadata). Put the result in
place of our checkpoint and resume: our SBCL epochs then start from the authors' warm-up state.
Without --template it writes the plain state dict, and `--warm 0` the authors' initial weights
for a seed, which `stages.encoder.init_weights` starts our training from (the harness's paired
cells, `scripts/fidelity/fashion_mnist.py --sides ours_paired`).

Usage: SBCL_REF=<JackHck/SBCL checkout> python reference_warmup.py OUT [--template T] [--tseed S] [--warm W]
"""
import argparse, json, math, os, sys, time
import numpy as np, torch, torch.nn as nn
import torchvision.transforms as T
from safetensors.torch import load_file, save_file
from safetensors import safe_open

ap = argparse.ArgumentParser()
ap.add_argument("out"); ap.add_argument("--template", default=None,
                                        help="our encoder checkpoint after the same epoch; without it OUT is a plain state dict (for init_weights)")
ap.add_argument("--tseed", type=int, default=None); ap.add_argument("--warm", type=int, default=3)
ap.add_argument("--epochs", type=int, default=15); ap.add_argument("--batch", type=int, default=256)
ap.add_argument("--init", default=None, help="safetensors of initial weights (reference names) to start from instead of the anchor's initialisation");
ap.add_argument("--lr", type=float, default=0.5); ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
torch.set_num_threads(args.threads)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "goldens"))
import reference  # noqa: E402,F401  (the authors' SimCLR/ code, importable without a GPU)
from reference import resnet, loss as L  # noqa: E402

# The anchor's data, seeding and model, in its order.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist_lt  # noqa: E402
xlt, ylt, counts, mean, std = fmnist_lt.load()
torch.manual_seed(0)
if args.tseed is not None: np.random.seed(args.tseed); torch.manual_seed(args.tseed)
aug = T.Compose([T.ToPILImage(), T.RandomResizedCrop(28, scale=(0.2, 1.)), T.RandomHorizontalFlip(),
                 T.RandomApply([T.ColorJitter(0.4, 0.4)], p=0.8), T.ToTensor(), T.Normalize((mean,), (std,))])
model = resnet.SupConResNet(feat_dim=128)
model.encoder.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False); nn.init.kaiming_normal_(model.encoder.conv1.weight)
if args.init:
    state = {k: torch.from_numpy(v) for k, v in __import__("safetensors.numpy", fromlist=["load_file"]).load_file(args.init).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
opt = torch.optim.SGD(model.parameters(), args.lr, momentum=0.9, weight_decay=1e-4)
N, B = len(ylt), args.batch
def batch(ix, tf): return torch.stack([tf(xlt[i]) for i in ix])
started = time.time()
for ep in range(args.warm):
    lr = args.lr * 1e-4 + (args.lr - args.lr * 1e-4) * (1 + math.cos(math.pi * ep / args.epochs)) / 2
    for g in opt.param_groups: g["lr"] = lr
    model.train(); perm = np.random.permutation(N); tot = 0.0; nb = 0
    for s in range(0, N - B + 1, B):
        ix = perm[s:s + B]
        x = torch.cat([batch(ix, aug), batch(ix, aug)]); y = torch.from_numpy(ylt[ix])
        f = model(x); f1, f2 = torch.split(f, [len(ix), len(ix)]); feats = torch.cat([f1[:, None], f2[:, None]], 1)
        l = L.SupConLoss(temperature=0.1)(feats, y)
        opt.zero_grad(); l.backward(); opt.step(); tot += l.item(); nb += 1
    print(json.dumps({"epoch": ep, "loss": tot / nb, "lr": lr, "elapsed_s": time.time() - started}), flush=True)

if args.template is None:
    # A plain state dict in the reference's names: `stages.encoder.init_weights` reads it.
    save_file({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}, args.out)
    print(json.dumps({"wrote": args.out, "epoch": args.warm}))
    sys.exit(0)
tensors = {k: v for k, v in load_file(args.template).items() if not k.startswith("momentum.")}
with safe_open(args.template, "pt") as f: metadata = f.metadata()
metadata["epoch"] = str(args.warm)   # --warm 0 writes the initialisation (no momentum yet)
for name, value in model.state_dict().items():
    assert "model." + name in tensors, name
    tensors["model." + name] = value.detach().clone().contiguous()
for name, p in model.named_parameters():
    buf = opt.state.get(p, {}).get("momentum_buffer")
    if buf is not None:
        tensors["momentum." + name] = buf.detach().clone().contiguous()
save_file(tensors, args.out, metadata=metadata)
print(json.dumps({"wrote": args.out, "epoch": args.warm}))
