#!/usr/bin/env python3
"""The authors' ImageNet-LT code (JackHck/SBCL moco/), changed only to run on the CPU in one process
at a small scale: extract moco/*.py into DEST and apply a small, mechanical patch, every change
listed here and checked to apply exactly (the script stops when the authors' text no longer
matches). `--print` shows the patch as a unified diff.

The changes, file by file (nothing in the training arithmetic changes):

  main.py
    1. `from kmeans_gpu import kmeans` -> `from kmean_gpu import kmeans`: the file in the repository
       is kmean_gpu.py (the import fails as committed).
    2. `torch.set_num_threads(THREADS)` as main()'s first line.
    3. `args.distributed = True`: one process; DistributedDataParallel on the gloo backend with world
       size 1 (run with --world-size 1 --rank 0 --dist-backend gloo --dist-url tcp://127.0.0.1:PORT),
       so `concat_all_gather`, `_batch_shuffle_ddp` and the DistributedSampler run as written.
    4. `model.cuda()` before DDP removed; `.cuda()` removed from the KCL / SupConLoss_rank criteria
       and from cluster()'s two tensors; `kmeans(..., device=torch.device("cuda"))` -> cpu.
    5. The data: `args.data` -> the data root, `txt_train` -> its train split file.
    6. `RandomResizedCrop(224, scale=(0.2, 1.))` -> RandomResizedCrop(SIZE, ...) (both aug lists).
    7. Only with --kcl (the KCL baseline, no switch to SBCL): `pretrain_epochs = args.epochs // 2`
       -> `pretrain_epochs = args.epochs` (the second loop then runs no epoch), and train()'s
       `if epoch < args.epochs//2:` -> `if isinstance(criterion, KCL):` (the same choice for every
       run of the first loop; the original would call KCL with the rank loss's five arguments in
       the second half).
  moco.py
    8. `torch.randperm(batch_size_all).cuda()` -> on the CPU.
  loss.py
    9. `.cuda()` removed from the `torch.ones(...)` columns; LDAMLoss: `torch.cuda.FloatTensor`
       -> `torch.FloatTensor`, and its `uint8` index -> `bool` (torch.where takes a bool condition
       in current PyTorch; the same mask).
  imagenet_lt_loader.py
   10. `num_classes=1000` -> the data's class count (both datasets): with 1000, classes without
       images get empty lists and `shot_acc` indexes past the test classes.
       Its `import BaseDataLoader` is met by copying BaseDareLoader.py (the repository's file
       name) to BaseDataLoader.py, unchanged.
  utils.py
   11. The unused matplotlib / sklearn imports removed (not installed here; nothing uses them).
  linear_classify.py
   12. `torch.set_num_threads(THREADS)`; `num_classes = 1000` -> the class count (model, validate);
       `.cuda(...)` removed (DataParallel, criterion, targets, the logits buffers; DataParallel
       without GPUs calls the module itself); data root and both split files; the val loader's
       `num_workers=10` -> args.workers.
   13. RandomResizedCrop(224) -> SIZE; Resize(256) / CenterCrop(224) -> SIZE·8//7 / SIZE (the same
       proportion; SIZE·8//7 is also our evaluation's resize).
  kmean_gpu.py, sample.py: unchanged (kmean_gpu imports tqdm: put it on PYTHONPATH).

Not patched and left as written: the DRW rule of linear_classify.py (`NormedLinear_Classifier()`
with its defaults feat_dim=64, num_classes=100 cannot take ResNet features, and `idx = epoch // 60`
keeps β = 0 for 40 epochs), so only `--train_rule CB` is run.

Usage: moco_cpu_patch.py DEST --data ROOT --train-split FILE --test-split FILE --classes C
                         --size S [--threads 2] [--kcl] [--print] [--repo MIRROR]
"""
import argparse
import difflib
import os
import subprocess
import sys

FILES = ["main.py", "moco.py", "loss.py", "kmean_gpu.py", "imagenet_lt_loader.py", "utils.py", "sample.py",
         "linear_classify.py", "BaseDareLoader.py"]
DEFAULT_REPO = os.environ.get("SBCL_MIRROR", "/work/.mirror/JackHck+SBCL/repo")


def replacements(data, train, test, classes, size, threads, kcl):
    """(file, old, new, expected count) for every change the docstring lists."""
    r = repr
    resize = size * 8 // 7
    threads_line = f"    torch.set_num_threads({threads})  # CPU patch\n"
    out = [
        ("main.py", "from kmeans_gpu import kmeans", "from kmean_gpu import kmeans", 1),
        ("main.py", "def main():\n    args = parser.parse_args()\n", "def main():\n" + threads_line + "    args = parser.parse_args()\n", 1),
        ("main.py", "args.distributed = args.world_size > 1 or args.multiprocessing_distributed",
         "args.distributed = True  # CPU patch: one process, DDP on gloo, world size 1", 1),
        ("main.py", "            model.cuda()\n            model = torch.nn.parallel.DistributedDataParallel(model)",
         "            model = torch.nn.parallel.DistributedDataParallel(model)", 1),
        ("main.py", "criterion = KCL(K=args.moco_k,k=6,temperature=args.moco_t).cuda()",
         "criterion = KCL(K=args.moco_k,k=6,temperature=args.moco_t)", 1),
        ("main.py", "criterion = SupConLoss_rank(K=args.moco_k,temperature=args.moco_t).cuda()",
         "criterion = SupConLoss_rank(K=args.moco_k,temperature=args.moco_t)", 1),
        ("main.py", "        images = images[0].cuda(args.gpu, non_blocking=True)\n        target = target.cuda(args.gpu, non_blocking=True)\n",
         "        images = images[0]\n", 1),
        ("main.py", 'device=torch.device("cuda")', 'device=torch.device("cpu")', 1),
        ("main.py", "args.data = 'autodl-tmp/imagenet'", f"args.data = {r(data)}", 1),
        ("main.py", "txt_train = f'moco/ImageNet_LT_train.txt'", f"txt_train = {r(train)}", 1),
        ("main.py", "transforms.RandomResizedCrop(224, scale=(0.2, 1.))", f"transforms.RandomResizedCrop({size}, scale=(0.2, 1.))", 2),
        ("moco.py", "torch.randperm(batch_size_all).cuda()", "torch.randperm(batch_size_all)", 1),
        ("loss.py", "]).cuda()", "])", 7),
        ("loss.py", "torch.cuda.FloatTensor", "torch.FloatTensor", 2),
        ("loss.py", "torch.zeros_like(x, dtype=torch.uint8)", "torch.zeros_like(x, dtype=torch.bool)", 1),
        ("imagenet_lt_loader.py", "num_classes=1000", f"num_classes={classes}", 2),
        ("utils.py", "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nfrom sklearn.metrics import confusion_matrix\n"
         "from sklearn.utils.multiclass import unique_labels\n", "", 1),
        ("linear_classify.py", "def main():\n    args = parser.parse_args()\n", "def main():\n" + threads_line + "    args = parser.parse_args()\n", 1),
        ("linear_classify.py", "    num_classes = 1000\n", f"    num_classes = {classes}\n", 1),
        ("linear_classify.py", "    num_classes =1000\n", f"    num_classes ={classes}\n", 1),
        ("linear_classify.py", "model = torch.nn.DataParallel(model).cuda()", "model = torch.nn.DataParallel(model)", 1),
        ("linear_classify.py", "args.data = 'autodl-tmp/imagenet'", f"args.data = {r(data)}", 1),
        ("linear_classify.py", "txt_train = f'moco/ImageNet_LT_train.txt'", f"txt_train = {r(train)}", 1),
        ("linear_classify.py", "txt_test = f'moco/ImageNet_LT_test.txt'", f"txt_test = {r(test)}", 1),
        ("linear_classify.py", "transforms.RandomResizedCrop(224),", f"transforms.RandomResizedCrop({size}),", 1),
        ("linear_classify.py", "transforms.Resize(256),", f"transforms.Resize({resize}),", 1),
        ("linear_classify.py", "transforms.CenterCrop(224),", f"transforms.CenterCrop({size}),", 1),
        ("linear_classify.py", "num_workers=10, pin_memory=True)", "num_workers=args.workers, pin_memory=True)", 1),
        ("linear_classify.py", "criterion = nn.CrossEntropyLoss().cuda(args.gpu)", "criterion = nn.CrossEntropyLoss()", 1),
        ("linear_classify.py", "per_cls_weights = torch.FloatTensor(per_cls_weights).cuda(args.gpu)", "per_cls_weights = torch.FloatTensor(per_cls_weights)", 1),
        ("linear_classify.py", "weight=per_cls_weights).cuda(args.gpu)", "weight=per_cls_weights)", 1),
        ("linear_classify.py", "target = target.cuda(args.gpu, non_blocking=True)", "target = target", 2),
        ("linear_classify.py", "class_num = torch.zeros(num_classes).cuda()", "class_num = torch.zeros(num_classes)", 1),
        ("linear_classify.py", "total_logits = torch.empty((0, num_classes)).cuda()", "total_logits = torch.empty((0, num_classes))", 1),
        ("linear_classify.py", "total_labels = torch.empty(0, dtype=torch.long).cuda()", "total_labels = torch.empty(0, dtype=torch.long)", 1),
    ]
    if kcl:
        out += [("main.py", "pretrain_epochs = args.epochs // 2", "pretrain_epochs = args.epochs  # KCL baseline: no switch", 1),
                ("main.py", "if epoch < args.epochs//2:", "if isinstance(criterion, KCL):  # KCL baseline", 1)]
    return out


def extract(repo, dest):
    """moco/*.py at the mirror's HEAD (`git show`, so the split files' absent LFS blobs don't matter)."""
    os.makedirs(dest, exist_ok=True)
    originals = {}
    for name in FILES:
        text = subprocess.run(["git", "-C", repo, "show", f"HEAD:moco/{name}"], capture_output=True, text=True, check=True).stdout
        originals[name] = text
    return originals


def patch(dest, data, train, test, classes, size, threads=2, kcl=False, repo=DEFAULT_REPO, show=False):
    """Writes the patched moco/ into `dest` and returns the unified diff."""
    originals = extract(repo, dest)
    patched = dict(originals)
    for name, old, new, count in replacements(data, train, test, classes, size, threads, kcl):
        found = patched[name].count(old)
        if found != count:
            sys.exit(f"moco_cpu_patch: {name}: expected {count} occurrence(s) of {old!r}, found {found}; the authors' code changed")
        patched[name] = patched[name].replace(old, new)
    patched["BaseDataLoader.py"] = originals["BaseDareLoader.py"]
    diff = []
    for name in FILES:
        with open(os.path.join(dest, name), "w") as f:
            f.write(patched[name])
        diff += difflib.unified_diff(originals[name].splitlines(True), patched[name].splitlines(True), f"a/moco/{name}", f"b/moco/{name}")
    with open(os.path.join(dest, "BaseDataLoader.py"), "w") as f:
        f.write(patched["BaseDataLoader.py"])
    os.makedirs(os.path.join(dest, "Imagenet"), exist_ok=True)  # where both scripts save their checkpoints
    text = "".join(diff)
    with open(os.path.join(dest, "cpu_patch.diff"), "w") as f:
        f.write(text)
    if show:
        print(text)
    return text


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dest")
    p.add_argument("--data", required=True)
    p.add_argument("--train-split", required=True)
    p.add_argument("--test-split", required=True)
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--kcl", action="store_true")
    p.add_argument("--repo", default=DEFAULT_REPO)
    p.add_argument("--print", action="store_true")
    a = p.parse_args()
    patch(a.dest, os.path.abspath(a.data), os.path.abspath(a.train_split), os.path.abspath(a.test_split), a.classes, a.size,
          a.threads, a.kcl, a.repo, a.print)


if __name__ == "__main__":
    main()
