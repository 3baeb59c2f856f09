#!/usr/bin/env python3
"""Fidelity harness, the ImageNet-LT half end to end: MoCo v2 + KCL → SBCL (`rank`) and the `cb`
linear stage on a small long-tailed ImageNet-LT-layout folder of real images, ours against the
authors' moco/main.py + moco/linear_classify.py, for N training seeds, as a table (docs/fidelity.md,
"The ImageNet-LT half end to end (harness)").

Data:     Fashion-MNIST written as JPEG (RGB, upscaled to PX×PX with Pillow's bicubic) in ImageNet-LT's
          layout: `train/c<k>/<file>.JPEG <label>` lines in train.txt (sorted by class, as the
          authors' cluster() assumes), a balanced test split `test/c<k>/<file>.JPEG <label>`; each test
          image is also hard-linked as `test/<file>.JPEG`, the path ImageNetLT_val reads (it drops the
          class folder, as ImageNet-LT's flat val folder), so both sides read the same files.
          C classes, n_c = ⌊n_max · imbalance^(c/(C−1))⌋ training images (the first n_c of class c in
          the training file's order), `test` per class from the t10k file.
          (`sbcl-run sample-data imagenet_lt` has no size options and mixes PNGs: not used.)
Ours:     sbcl-run recipes/imagenet_lt_smoke.yaml with the schedule's settings as overrides
          (ours_command), plus OURS_FAITHFUL_OVERRIDES.
Authors': moco/ extracted from the JackHck/SBCL mirror and patched to run on the CPU in one process
          (scripts/fidelity/moco_cpu_patch.py lists every change; DDP on gloo with world size 1),
          main.py then linear_classify.py on its Imagenet/last.pth.tar, `--train_rule CB`, through a
          thin wrapper that records each epoch's validate() (top-1 and shot_acc's many/medium/few,
          the reference's definitions: many > 100, few < 20 training images) without changing it.
Variants: sbcl (`rank`; authors: main.py as written) and kcl (ours `stages.loss.variant=kcl`;
          authors: main.py with `pretrain_epochs = args.epochs`, moco_cpu_patch.py --kcl).

Each cell (side, variant, seed) writes RESULTS/<schedule>/<side>-<variant>-seed<S>.json once (top-1 of
the last and of the best linear epoch, many/medium/few of both, the per-epoch curve where the side
reports one, wall time, CPU model) and is skipped when that file exists; the table is printed from
whatever cells exist: per side and variant mean ± sample sd (n) of the last epoch's top-1 and the
groups' Welch differences from `sbcl-run compare --group-by side,variant --json`, ours − authors
with its standard error, SBCL − KCL per side, and the best-epoch top-1 (the reference's report).

Schedules (encoder batch 64, lr 0.1 cosine per half as main.py — the reference's per-GPU batch is
32 at lr 0.1 —, K 512, M 20; linear stage batch 128, lr 0.625 = 10 · 128 / 2048, milestones at ½ and ¾):
  tiny  validation only: 10 classes 300 … 6 (imbalance 0.02, 837 images), 20 test images each, 32 px,
        2 + 2 epochs re-clustering every epoch, 2 linear epochs (milestones 1, 2). Measured
        (docs/fidelity.md): the authors' cell 100 CPU-seconds (a later one: main.py 57.5, linear 23), ours 144 — on
        2 cores shared with 2 Swift builds and a training run, 5–6 and 9–12 minutes of wall time.
  full  the comparison: the same 837 training images, 100 test images a class, 30 epochs (15 KCL
        + 15 SBCL, re-clustering every 5 epochs of the second half, as the reference), 20 linear
        epochs (milestones 10, 15). Estimate from the tiny cells' CPU time (≈ 14 CPU-s per encoder
        epoch for the authors' code, ≈ 33 for ours — the whole tiny cells took 101 and 144 CPU-s;
        a linear epoch a few CPU-s plus 1000 test images): the authors' ≈ 11–13 CPU-min, ours ≈ 19–23 CPU-min a cell, i.e. about 7–10 and
        11–15 minutes on 2 otherwise idle cores; 3 seeds × 2 variants × 2 sides ≈ 2–2.5 h
        (several times that on a shared machine: see each cell's `cpu_seconds`).

The authors' runs are not reproducible for a given --seed past the first re-clustering: cluster()
calls kmeans() without its `seed`, so the initial centres come from numpy's global generator,
which main.py never seeds (the rerun of the tiny sbcl seed-0 cell: same top-1, many/medium/few
moved by 1–3 points). Left as written (it is their arithmetic); it adds to the seed spread.

Usage: scripts/fidelity/imagenet_lt_moco.py [--schedule tiny|full] [--seeds 3] [--variants sbcl,kcl]
         [--sides ours,authors] [--results docs/fidelity/imagenet_lt_moco] [--table-only] [--print-patch]
Env:   PYTHON (a venv with torch, default /work/venv-torch/bin/python), PYTHONPATH_EXTRA (torchvision
       and tqdm for the authors' code, default /tmp/tvpkg:runs/pydeps; torchvision 0.29.2 matches torch
       2.15: `pip install --no-deps --target DIR torchvision==0.29.2 tqdm`), SBCL_RUN (default
       .build/release/sbcl-run), SBCL_MIRROR (the JackHck/SBCL git mirror).
"""
import argparse
import gzip
import json
import math
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import moco_cpu_patch  # noqa: E402

COMMON = {"classes": 10, "n_max": 300, "imbalance": 0.02, "px": 48, "size": 32, "batch": 64, "lr": 0.1, "K": 512,
          "M": 20, "cls_batch": 128, "cls_lr": 0.625, "threads": 2, "workers": 0}
SCHEDULES = {
    "tiny": {**COMMON, "test": 20, "epochs": 4, "step": 1, "cls_epochs": 2},
    "full": {**COMMON, "test": 100, "epochs": 30, "step": 5, "cls_epochs": 20},
}

# Overrides that make ours follow the reference's linear-stage rules (docs/imagenet_lt.md, "The linear
# stage: what we match"): ⌊N/B⌋ steps an epoch from a class-aware stream that continues across
# epochs, and the backbone's batch norm on batch statistics with re-estimated running statistics; with
# them the milestones are given one epoch earlier (FAITHFUL_MILESTONES: the reference decays when
# epoch + 1 >= m). Batch-norm groups stay at 1: the authors' side runs as one process here (world
# size 1), so its batch norm, too, normalises the whole batch. Cells run with a non-empty list go to
# <schedule>-faithful; `--plain` runs ours with our own rules (cells in <schedule>).
OURS_FAITHFUL_OVERRIDES = ["stages.classifier.epoch_length=dataset", "stages.classifier.backbone_batch_norm=train"]
FAITHFUL_MILESTONES = True
# `--full-decode` adds stages.data.decode=full (every JPEG decoded at full size before the crop, as
# torchvision's PIL loader does, instead of reduced in the DCT where the views allow it); its cells go
# to <folder>-full-decode.
FULL_DECODE = "stages.data.decode=full"


def faithful():
    """Whether ours runs with the reference's linear-stage rules (the overrides besides FULL_DECODE)."""
    return bool(set(OURS_FAITHFUL_OVERRIDES) - {FULL_DECODE})


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def cpu_used(before):
    """CPU seconds (user + system) of the finished child processes since `before`: on a shared
    machine the wall time depends on the load, this does much less."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime - before


def sbcl_run():
    return os.environ.get("SBCL_RUN", os.path.join(ROOT, ".build", "release", "sbcl-run"))


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def counts(s):
    c = s["classes"]
    return [int(s["n_max"] * s["imbalance"] ** (k / (c - 1))) for k in range(c)]


def write_data(root, s, source="/usr/share/datasets/fashion-mnist"):
    """The ImageNet-LT-layout folder (module docstring); written once, reused when complete."""
    done = os.path.join(root, ".complete")
    if os.path.exists(done):
        return
    from PIL import Image
    os.makedirs(root, exist_ok=True)
    splits = {"train": (idx(f"{source}/train-images-idx3-ubyte.gz"), idx(f"{source}/train-labels-idx1-ubyte.gz"), counts(s)),
              "test": (idx(f"{source}/t10k-images-idx3-ubyte.gz"), idx(f"{source}/t10k-labels-idx1-ubyte.gz"), [s["test"]] * s["classes"])}
    for split, (images, labels, per_class) in splits.items():
        lines = []
        for c, n in enumerate(per_class):
            folder = os.path.join(root, split, f"c{c}")
            os.makedirs(folder, exist_ok=True)
            for i, j in enumerate(np.where(labels == c)[0][:n]):
                name = f"{split}_{c}_{i:05d}.JPEG"
                path = os.path.join(folder, name)
                Image.fromarray(images[j]).convert("RGB").resize((s["px"], s["px"]), Image.BICUBIC).save(path, quality=90)
                if split == "test":  # ImageNetLT_val drops the class folder from the path
                    os.link(path, os.path.join(root, split, name))
                lines.append(f"{split}/c{c}/{name} {c}\n")
        with open(os.path.join(root, f"{split}.txt"), "w") as f:
            f.writelines(lines)
    open(done, "w").write(json.dumps({"train": counts(s), "test": s["test"]}))


def data_root(schedule):
    s = SCHEDULES[schedule]
    return os.path.join(ROOT, "runs", "fidelity", "imagenet_lt_moco", "data",
                        f"fmnist-c{s['classes']}-n{s['n_max']}-r{s['imbalance']}-t{s['test']}-px{s['px']}")


def milestones(s):
    return [max(1, round(s["cls_epochs"] / 2)), max(1, round(s["cls_epochs"] * 3 / 4))]


def ours_command(s, variant, seed, data):
    m = milestones(s)
    if faithful() and FAITHFUL_MILESTONES:
        # The reference's `epoch + 1 >= m` is our `epoch > m - 1` (a milestone of 1, a decay from the
        # first epoch, has no equivalent: ours starts at 1).
        m = [max(1, x - 1) for x in m]
    return [sbcl_run(), os.path.join(ROOT, "recipes", "imagenet_lt_smoke.yaml"), f"seed={seed}",
            f"stages.data.root={data}", f"stages.data.train_split={data}/train.txt", f"stages.data.test_split={data}/test.txt",
            f"stages.views.size={s['size']}",
            f"stages.encoder.epochs={s['epochs']}", f"stages.clusters.warmup_epochs={s['epochs'] // 2}",
            f"stages.clusters.every={s['step']}", f"stages.clusters.min_cluster_size={s['M']}",
            f"stages.encoder.batch_size={s['batch']}", f"stages.encoder.learning_rate={s['lr']}",
            f"stages.encoder.queue_size={s['K']}", f"stages.encoder.checkpoint_every={s['epochs']}",
            f"stages.classifier.epochs={s['cls_epochs']}", f"stages.classifier.batch_size={s['cls_batch']}",
            f"stages.classifier.learning_rate={s['cls_lr']}", f"stages.classifier.milestones=[{m[0]},{m[1]}]",
            f"stages.loss.variant={'rank' if variant == 'sbcl' else 'kcl'}",
            "stages.classifier.test_curve=true"] \
        + OURS_FAITHFUL_OVERRIDES + ["--threads", str(s["threads"]), "--json", "--quiet"]


def ours_curve(run):
    """The classifier's per-epoch test metrics from a run folder's metrics.jsonl (None without them)."""
    path = os.path.join(run or "", "metrics.jsonl")
    if not os.path.exists(path):
        return None
    curve = []
    for line in open(path):
        r = json.loads(line)
        if r.get("stage") == "classifier" and r.get("event") == "epoch" and "test_top1" in r:
            curve.append({"epoch": r["epoch"], "top1": r["test_top1"], "many": r.get("test_many"),
                          "medium": r.get("test_medium"), "few": r.get("test_few")})
    return curve or None


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


WRAPPER = '''# A thin wrapper: runs linear_classify.main() unchanged and records what each validate() returns.
import json, sys
import linear_classify as lc
curve, original = [], lc.validate
def validate(*args, **kwargs):
    acc1, shots = original(*args, **kwargs)
    curve.append({"top1": float(acc1), "many": 100 * float(shots[0]), "medium": 100 * float(shots[1]), "few": 100 * float(shots[2])})
    json.dump(curve, open("linear_curve.json", "w"))
    return acc1, shots
lc.validate = validate
lc.main()
'''


def authors_cell(s, variant, seed, data, work):
    """Patches moco/ into `work`, runs main.py then the wrapped linear_classify.py there; returns the curve."""
    moco_cpu_patch.patch(work, data, f"{data}/train.txt", f"{data}/test.txt", s["classes"], s["size"], s["threads"], kcl=variant == "kcl")
    open(os.path.join(work, "linear_wrapper.py"), "w").write(WRAPPER)
    python = os.environ.get("PYTHON", "/work/venv-torch/bin/python")
    extra = os.environ.get("PYTHONPATH_EXTRA", f"/tmp/tvpkg:{os.path.join(ROOT, 'runs', 'pydeps')}")
    env = {**os.environ, "PYTHONPATH": f"{work}:{extra}", "OMP_NUM_THREADS": str(s["threads"])}
    pretrain = [python, "main.py", "-a", "resnet18", "--lr", str(s["lr"]), "--batch-size", str(s["batch"]),
                "--epochs", str(s["epochs"]), "--moco-k", str(s["K"]), "--step", str(s["step"]), "--cluster", str(s["M"]),
                "--seed", str(seed), "-j", str(s["workers"]), "--print-freq", "1", "--world-size", "1", "--rank", "0",
                "--dist-backend", "gloo", "--dist-url", f"tcp://127.0.0.1:{free_port()}"]
    m = milestones(s)
    linear = [python, "linear_wrapper.py", "-a", "resnet18", "--pretrained", "Imagenet/last.pth.tar", "--lr", str(s["cls_lr"]),
              "--batch-size", str(s["cls_batch"]), "--epochs", str(s["cls_epochs"]), "--schedule", str(m[0]), str(m[1]),
              "--train_rule", "CB", "--seed", str(seed), "-j", str(s["workers"]), "--print-freq", "1000"]
    seconds = {}
    for name, command in (("main", pretrain), ("linear", linear)):
        started = time.time()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_before = children.ru_utime + children.ru_stime
        print("$ (cd", work, "&&", " ".join(command) + ")", flush=True)
        with open(os.path.join(work, f"{name}.log"), "w") as log:
            done = subprocess.run(command, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            tail = open(os.path.join(work, f"{name}.log")).read()[-3000:]
            sys.exit(f"the authors' {name} failed ({done.returncode}); {work}/{name}.log:\n{tail}")
        seconds[name] = round(time.time() - started, 1)
        seconds[name + "_cpu"] = round(cpu_used(cpu_before), 1)
    return json.load(open(os.path.join(work, "linear_curve.json"))), [pretrain, linear], seconds


def folder_name(schedule, side="ours"):
    """The cells' folder: the authors' cells do not depend on our overrides and stay in <schedule>."""
    if side != "ours":
        return schedule
    return schedule + ("-faithful" if faithful() else "") \
        + ("-full-decode" if FULL_DECODE in OURS_FAITHFUL_OVERRIDES else "")


def run_cell(side, variant, seed, schedule, results):
    s = SCHEDULES[schedule]
    path = os.path.join(results, folder_name(schedule, side), f"{side}-{variant}-seed{seed}.json")
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = data_root(schedule)
    write_data(data, s)
    started = time.time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = children.ru_utime + children.ru_stime
    if side == "ours":
        command = ours_command(s, variant, seed, data)
        print("$", " ".join(command), flush=True)
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"ours failed ({done.returncode}):\n{done.stderr[-3000:]}")
        reply = json.loads(done.stdout)
        metrics = reply["metrics"]
        last = {k: metrics[k] for k in ("top1", "many", "medium", "few")}
        # Ours reports the last epoch; with stages.classifier.test_curve=true the run's metrics.jsonl
        # holds each linear epoch's test metrics (the reference's per-epoch validate) for the best.
        curve = ours_curve(reply.get("run"))
        record = {"run": reply.get("run"), "command": command}
    else:
        work = os.path.join(ROOT, "runs", "fidelity", "imagenet_lt_moco", "authors", os.path.basename(os.path.normpath(results)),
                            f"{schedule}-{variant}-seed{seed}")
        curve, commands, seconds = authors_cell(s, variant, seed, data, work)
        last = curve[-1]
        record = {"run": work, "command": commands, "stage_seconds": seconds}
    best = max(curve, key=lambda e: e["top1"]) if curve else None
    record.update({"side": side, "variant": variant, "seed": seed, "schedule": schedule,
                   "top1": last["top1"], "many": last["many"], "medium": last["medium"], "few": last["few"],
                   "top1_best": best["top1"] if best else None, "best": best, "curve": curve,
                   "train_counts": counts(s), "test_per_class": s["test"], "settings": s,
                   "faithful_overrides": OURS_FAITHFUL_OVERRIDES if side == "ours" else [],
                   "seconds": round(time.time() - started, 1), "cpu_seconds": round(cpu_used(cpu_before), 1), "cpu": cpu_model(), "threads": s["threads"],
                   "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()})
    json.dump(record, open(path, "w"), indent=1)
    print(f"{side} {variant} seed {seed}: top-1 last {record['top1']:.2f} best {record['top1_best'] if best else '-'}  "
          f"many {record['many']:.2f}  medium {record['medium']:.2f}  few {record['few']:.2f}  ({record['seconds']:.0f} s)", flush=True)


def shots(per_class, train_counts):
    """many / medium / few as the reference's shot_acc: mean per-class accuracy over the classes with
    more than 100, 20 to 100, and fewer than 20 training images."""
    def mean(sel):
        sel = [a for a, n in zip(per_class, train_counts) if sel(n)]
        return sum(sel) / len(sel) if sel else None
    return mean(lambda n: n > 100), mean(lambda n: 20 <= n <= 100), mean(lambda n: n < 20)


def rescore(schedule, results):
    """Ours' cells evaluated before the evaluation decoded image files at full size (commit c4c7376;
    before, where Resize allowed it, the test images were decoded reduced in the DCT): the same trained
    model is scored again by `sbcl-run predict` on the test split (full-size decoding, the evaluation
    stage's views and running statistics), the figures moved to `evaluation_reduced_decode`."""
    s = SCHEDULES[schedule]
    data = data_root(schedule)
    where = os.path.join(results, folder_name(schedule, "ours"))
    for name in sorted(os.listdir(where)) if os.path.isdir(where) else []:
        path = os.path.join(where, name)
        if not (name.startswith("ours-") and name.endswith(".json")):
            continue
        r = json.load(open(path))
        if "evaluation_decode" in r:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "predictions.json")
            done = subprocess.run([sbcl_run(), "predict", r["run"], f"{data}/test.txt", "--root", data, "--json", "-o", out,
                                   "--threads", str(s["threads"])], cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"predict failed on {r['run']} ({done.returncode}): {done.stderr[-2000:]}")
            report = json.load(open(out))
        per_class = [100 * c["correct"] / c["labelled"] for c in sorted(report["summary"], key=lambda c: c["index"])]
        many, medium, few = shots(per_class, r["train_counts"])
        r["evaluation_reduced_decode"] = {k: r[k] for k in ("top1", "many", "medium", "few")}
        r.update({"top1": report["top1"], "many": many, "medium": medium, "few": few,
                  "evaluation_decode": "full: rescored by sbcl-run predict (the same trained model)"})
        json.dump(r, open(path, "w"), indent=1)
        print(f"rescored {name}: top-1 {r['evaluation_reduced_decode']['top1']:.2f} -> {r['top1']:.2f}", flush=True)


def grouped(cells):
    """`sbcl-run compare --group-by side,variant --json` over minimal run folders, one per cell
    (as scripts/fidelity/fashion_mnist.py): means, sample sds and Welch differences of the last epoch."""
    with tempfile.TemporaryDirectory(prefix="sbcl-fidelity-") as tmp:
        folders = []
        for (side, variant), rows in sorted(cells.items()):
            for r in rows:
                folder = os.path.join(tmp, f"{side}-{variant}-seed{r['seed']}")
                os.makedirs(folder)
                json.dump({"status": "complete", "overrides": [], "stages": [],
                           "parameters": {"seed": r["seed"], "side": side, "variant": variant}},
                          open(os.path.join(folder, "run.json"), "w"))
                json.dump({k: r[k] for k in ("top1", "many", "medium", "few")}, open(os.path.join(folder, "metrics.json"), "w"))
                folders.append(folder)
        if not folders:
            return {}, []
        out = subprocess.run([sbcl_run(), "compare", *folders, "--group-by", "side,variant", "--json"],
                             capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    return {(g["values"]["side"], g["values"]["variant"]): g for g in result["groups"]}, result["differences"]


def mean_sd(values):
    n = len(values)
    if n == 0:
        return float("nan"), float("nan"), 0
    m = sum(values) / n
    return m, (math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1)) if n > 1 else float("nan")), n


def text(summary):
    if not summary:
        return "-"
    return f"{summary['mean']:.2f} ± {summary['sd']:.2f}" if "sd" in summary else f"{summary['mean']:.2f}"


def se_text(se):
    return "n/a: one seed" if math.isnan(se) else f"{se:.2f}"


def table(schedule, results, variants, tolerance=1.5):
    folder = os.path.join(results, folder_name(schedule))
    cells = {}
    for side in ("authors", "ours"):
        where = os.path.join(results, folder_name(schedule, side))
        for name in sorted(os.listdir(where)) if os.path.isdir(where) else []:
            if name.startswith(side + "-") and name.endswith(".json"):
                r = json.load(open(os.path.join(where, name)))
                cells.setdefault((r["side"], r["variant"]), []).append(r)
    groups, differences = grouped(cells)
    print(f"\nschedule {schedule} ({folder}); last linear epoch, mean ± sample sd (n) over seeds "
          "(sbcl-run compare --group-by side,variant); best epoch = the reference's report")
    print("| run | n | seeds | top-1 | many | medium | few | top-1 best epoch | min/cell (CPU min) |")
    print("|---|---|---|---|---|---|---|---|---|")
    means, ses = {}, {}
    for variant in variants:
        for side in ("authors", "ours"):
            rows = cells.get((side, variant), [])
            g = groups.get((side, variant))
            metrics = g["metrics"] if g else {}
            m, sd, n = mean_sd([r["top1"] for r in rows])
            means[(side, variant)], ses[(side, variant)] = m, (sd / math.sqrt(n) if n > 1 else float("nan"))
            bm, bsd, bn = mean_sd([r["top1_best"] for r in rows if r.get("top1_best") is not None])
            best = "-" if bn == 0 else (f"{bm:.2f} ± {bsd:.2f}" if bn > 1 else f"{bm:.2f}")
            minutes = f"{sum(r['seconds'] for r in rows) / len(rows) / 60:.1f}" if rows else "-"
            cpu = [r["cpu_seconds"] for r in rows if "cpu_seconds" in r]
            minutes += f" ({sum(cpu) / len(cpu) / 60:.1f})" if cpu else ""
            seeds = ",".join(str(r["seed"]) for r in sorted(rows, key=lambda r: r["seed"])) or "-"
            print(f"| {side} `{variant}` | {n} | {seeds} | " + " | ".join(text(metrics.get(k)) for k in ("top1", "many", "medium", "few"))
                  + f" | {best} | {minutes} |")
    for d in differences:
        a, b = (dict(kv.split("=") for kv in d[k].split(",")) for k in ("baseline", "group"))
        if d["metric"] == "top1" and "t" in d and (a["side"] == b["side"] or a["variant"] == b["variant"]):
            print(f"{d['group']} − {d['baseline']}: top-1 {d['difference']:+.2f} (se {d['standard_error']:.2f}, Welch t {d['t']:+.2f}, "
                  f"df {d['df']:.1f}, p {d['p']:.3f}: {d['reading']})")
    verdict = True
    for variant in variants:
        a, o = means[("authors", variant)], means[("ours", variant)]
        if math.isnan(a) or math.isnan(o):
            print(f"{variant}: a side has no cells yet")
            verdict = False
            continue
        se = math.sqrt(ses[("authors", variant)] ** 2 + ses[("ours", variant)] ** 2)
        ok = abs(a - o) <= tolerance
        verdict &= ok
        print(f"{variant}: ours − authors = {o - a:+.2f} top-1 points (se {se_text(se)}; {'within' if ok else 'NOT within'} {tolerance})")
    if "sbcl" in variants and "kcl" in variants:
        for side in ("authors", "ours"):
            gain = means[(side, "sbcl")] - means[(side, "kcl")]
            if not math.isnan(gain):
                se = math.sqrt(ses[(side, "sbcl")] ** 2 + ses[(side, "kcl")] ** 2)
                print(f"{side}: SBCL − KCL {gain:+.2f} top-1 points (se {se_text(se)})")
    return verdict


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--schedule", choices=sorted(SCHEDULES), default="full")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--variants", default="sbcl,kcl")
    p.add_argument("--sides", default="ours,authors")
    p.add_argument("--results", default=os.path.join(ROOT, "docs", "fidelity", "imagenet_lt_moco"))
    p.add_argument("--table-only", action="store_true")
    p.add_argument("--plain", action="store_true",
                   help="ours with our own linear-stage rules (no OURS_FAITHFUL_OVERRIDES; cells in <schedule>)")
    p.add_argument("--full-decode", action="store_true",
                   help=f"ours with {FULL_DECODE} (no DCT-reduced JPEG decoding; cells in <folder>-full-decode)")
    p.add_argument("--rescore", action="store_true",
                   help="score ours' cells from before full-size evaluation decoding again with sbcl-run predict (see rescore)")
    p.add_argument("--print-patch", action="store_true", help="print the authors' CPU patch (for sbcl) and exit")
    a = p.parse_args()
    if a.plain:
        OURS_FAITHFUL_OVERRIDES.clear()
    if a.full_decode:
        OURS_FAITHFUL_OVERRIDES.append(FULL_DECODE)
    variants = a.variants.split(",")
    if a.print_patch:
        s = SCHEDULES[a.schedule]
        data = data_root(a.schedule)
        with tempfile.TemporaryDirectory() as tmp:
            moco_cpu_patch.patch(tmp, data, f"{data}/train.txt", f"{data}/test.txt", s["classes"], s["size"], s["threads"], show=True)
        return
    if a.rescore:
        rescore(a.schedule, a.results)
    elif not a.table_only:
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            for variant in variants:
                for side in a.sides.split(","):
                    run_cell(side, variant, seed, a.schedule, a.results)
    sys.exit(0 if table(a.schedule, a.results, variants) else 1)


if __name__ == "__main__":
    main()
