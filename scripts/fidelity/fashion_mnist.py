#!/usr/bin/env python3
"""Fidelity harness: SBCL's first stage + LDAM-DRW on real Fashion-MNIST-LT, ours against the
authors' code, for N training seeds, as a table (docs/fidelity.md).

Ours:      sbcl-run recipes/fashion_mnist_lt.yaml with the authors' settings as overrides.
Authors':  ../shared/anchors/torch_fmnist_lt.py (the official SimCLR/ model, losses and k-means,
           torchvision's PIL augmentations, the official LDAM-DRW linear stage), TSEED = seed.

Each cell (side, variant, seed) writes RESULTS/<schedule>/<side>-<variant>-seed<S>.json once and is
skipped when that file exists, so a table too long for one sitting fills in over several; the table
is printed from whatever cells exist. Both sides train on the same data (numpy's selection with
seed 0); the seed changes only the training draws.

Schedules:
  full   the authors' settings: all 14,886 images (6000 ... 60), ResNet-32 with a
         1-channel stem, batch 256, lr 0.5 cosine, 15 epochs (3 of SupCon, re-clustering every 3),
         LDAM-DRW 30 epochs with RandomCrop + flip (×0.1 after 21, 27). About 35 min per cell for
         ours and 60 for the authors' on 2 cores.
  short  the same with the first LIMIT (1000) training images per class before the long tail
         (1000 ... 10, 2,478 images), 9 epochs, LDAM-DRW 30 epochs: about 4 and 7 min per cell.
         The authors' script is run with that selection through a documented patch of its two
         data lines (see authors_command); nothing else in it changes.

Sides: `ours`, `authors`, and `ours_paired` — ours started from the authors' initial weights for
the same seed (`stages.encoder.init_weights`, written by reference_warmup.py --warm 0), so a pair
(authors, ours_paired) differs only by the implementations and the training draws, not by the
initialisation, which at this schedule moves a run by several points (docs/fidelity.md).

The anchor drops each epoch's last partial batch and SimCLR/main.py (our default) keeps it; for
the like-for-like comparison with the anchor add --drop-last (cells in <schedule>-drop_last; the
authors' cells are the same runs, copy them there). At the full setting keeping it cost our `rank`
run about 2 points (docs/fidelity.md, "The last partial batch").

Usage: scripts/fidelity/fashion_mnist.py [--schedule short|full] [--seeds 3] [--variants rank,supcon]
         [--sides ours,authors,ours_paired] [--results docs/fidelity/results] [--table-only]
Env:   PYTHON (the venv with torch, default /work/venv/bin/python), SBCL_REF (a checkout of
       JackHck/SBCL, default /work/ref/SBCL), SBCL_RUN (default .build/release/sbcl-run),
       ANCHOR (default ../shared/anchors/torch_fmnist_lt.py).
"""
import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCHEDULES = {
    "full": {"limit": 0, "epochs": 15, "warm": 3, "step": 3, "batch": 256, "lr": 0.5, "cls_epochs": 30},
    "short": {"limit": 1000, "epochs": 9, "warm": 3, "step": 3, "batch": 256, "lr": 0.5, "cls_epochs": 30},
}
RULES = {"rank": "Rank", "supcon": "SupCon"}


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def authors_initial_weights(seed, folder):
    """The authors' initial weights for TSEED = seed (the anchor's construction and seeding), as a
    state dict our `stages.encoder.init_weights` reads; written once into `folder`."""
    path = os.path.join(folder, f"authors-init-seed{seed}.safetensors")
    if not os.path.exists(path):
        os.makedirs(folder, exist_ok=True)
        python = os.environ.get("PYTHON", "/work/venv/bin/python")
        subprocess.run([python, os.path.join(ROOT, "scripts", "fidelity", "reference_warmup.py"), path, "--warm", "0", "--tseed", str(seed)],
                       check=True, env={**os.environ, "SBCL_REF": os.environ.get("SBCL_REF", "/work/ref/SBCL")})
    return path


def ours_command(s, variant, seed, threads, drop_last=False, init_weights=None):
    binary = os.environ.get("SBCL_RUN", os.path.join(ROOT, ".build", "release", "sbcl-run"))
    milestones = [round(0.7 * s["cls_epochs"]), round(0.9 * s["cls_epochs"])]
    return [binary, os.path.join(ROOT, "recipes", "fashion_mnist_lt.yaml"), f"seed={seed}",
            f"stages.data.per_class_limit={s['limit']}", f"stages.encoder.epochs={s['epochs']}",
            f"stages.clusters.warmup_epochs={s['warm']}", f"stages.clusters.every={s['step']}",
            f"stages.encoder.batch_size={s['batch']}", f"stages.encoder.learning_rate={s['lr']}",
            f"stages.encoder.checkpoint_every={s['epochs']}",
            f"stages.classifier.epochs={s['cls_epochs']}", "stages.classifier.augment=true",
            f"stages.classifier.milestones=[{milestones[0]},{milestones[1]}]",
            "stages.views.color_jitter=[0.4,0.4,0,0]", f"stages.loss.variant={variant}"] \
        + (["stages.encoder.drop_last=true"] if drop_last else []) \
        + ([f"stages.encoder.init_weights={init_weights}"] if init_weights else []) + ["--threads", str(threads), "--json", "--quiet"]


def authors_command(s, variant, seed, threads, out):
    """The anchor, unchanged for `full`; for a per-class limit its two data lines are patched
    (train split cut to the first LIMIT images of each class in file order, n_max = LIMIT), the
    same selection as our `per_class_limit`."""
    anchor = os.environ.get("ANCHOR", os.path.join(ROOT, "..", "shared", "anchors", "torch_fmnist_lt.py"))
    python = os.environ.get("PYTHON", "/work/venv/bin/python")
    env = {"EPOCHS": s["epochs"], "WARM": s["warm"], "STEP": s["step"], "BATCH": s["batch"], "LR": s["lr"],
           "CLS_EPOCHS": s["cls_epochs"], "THREADS": threads, "RULE": RULES[variant], "TSEED": seed}
    env = {k: str(v) for k, v in env.items()}
    if s["limit"] == 0:
        return [python, anchor, out], env
    source = open(anchor).read()
    load = 'xtr, ytr = imgs("train-images-idx3-ubyte.gz"), labs("train-labels-idx1-ubyte.gz")\n'
    counts = "counts = [int(6000 * 0.01 ** (c / 9)) for c in range(10)]"
    if load not in source or counts not in source:
        sys.exit("the anchor's data lines changed; update authors_command's patch")
    limit = s["limit"]
    source = source.replace(load, load + f"keep = np.concatenate([np.where(ytr == c)[0][:{limit}] for c in range(10)]); keep.sort(); "
                            "xtr, ytr = xtr[keep], ytr[keep]\n")
    source = source.replace(counts, counts.replace("6000", str(limit)))
    patched = os.path.join(out, "anchor_limited.py")
    os.makedirs(out, exist_ok=True)
    open(patched, "w").write(source)
    return [python, patched, out], env


def run_cell(side, variant, seed, schedule, results, threads, drop_last=False):
    s = SCHEDULES[schedule]
    folder = schedule + ("-drop_last" if drop_last else "")
    path = os.path.join(results, folder, f"{side}-{variant}-seed{seed}.json")
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    started = time.time()
    if side in ("ours", "ours_paired"):
        # ours_paired: our code from the authors' initial weights for this seed, so that the pair
        # (authors, ours_paired) differs by the implementations and the training draws only.
        init = authors_initial_weights(seed, os.path.join(ROOT, "runs", "fidelity", "init")) if side == "ours_paired" else None
        command = ours_command(s, variant, seed, threads, drop_last, init)
        print("$", " ".join(command), flush=True)
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"ours failed ({done.returncode}):\n{done.stderr[-3000:]}")
        reply = json.loads(done.stdout)
        metrics = reply["metrics"]
        record = {"run": reply["run"]}
    else:
        out = os.path.join(ROOT, "runs", "fidelity", f"authors-{schedule}-{variant}-seed{seed}")
        command, env = authors_command(s, variant, seed, threads, out)
        os.makedirs(out, exist_ok=True)
        print("$", " ".join(f"{k}={v}" for k, v in env.items()), " ".join(command), flush=True)
        done = subprocess.run(command, cwd=ROOT, env={**os.environ, **env, "SBCL_REF": os.environ.get("SBCL_REF", "/work/ref/SBCL")},
                              capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"the authors' script failed ({done.returncode}):\n{done.stderr[-3000:]}")
        metrics = json.load(open(os.path.join(out, "metrics.json")))
        record = {"run": out}
    record.update({"side": side, "variant": variant, "seed": seed, "schedule": schedule,
                   "top1": metrics["top1"], "many": metrics["many"], "medium": metrics["medium"],
                   "per_class": metrics["per_class"], "seconds": round(time.time() - started, 1),
                   "cpu": cpu_model(), "threads": threads, "command": command,
                   "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()})
    json.dump(record, open(path, "w"), indent=1)
    print(f"{side} {variant} seed {seed}: top1 {record['top1']:.2f}  many {record['many']:.2f}  medium {record['medium']:.2f}  "
          f"class 5 {record['per_class'][5]:.1f}  ({record['seconds']:.0f} s)", flush=True)


def sbcl_run():
    return os.environ.get("SBCL_RUN", os.path.join(ROOT, ".build", "release", "sbcl-run"))


def grouped(cells):
    """The cells' statistics from `sbcl-run compare --group-by side,variant --json` (docs/seeds.md):
    each cell becomes a minimal run folder (run.json with its seed, side and variant; metrics.json),
    so the table's means, sample sds and Welch tests are the ones `compare` prints for any sweep."""
    with tempfile.TemporaryDirectory(prefix="sbcl-fidelity-") as tmp:
        folders = []
        for (side, variant), rows in sorted(cells.items()):
            for r in rows:
                folder = os.path.join(tmp, f"{side}-{variant}-seed{r['seed']}")
                os.makedirs(folder)
                json.dump({"status": "complete", "overrides": [], "stages": [],
                           "parameters": {"seed": r["seed"], "side": side, "variant": variant}},
                          open(os.path.join(folder, "run.json"), "w"))
                json.dump({k: r[k] for k in ("top1", "top5", "many", "medium", "few", "per_class") if k in r},
                          open(os.path.join(folder, "metrics.json"), "w"))
                folders.append(folder)
        if not folders:
            return {}, []
        out = subprocess.run([sbcl_run(), "compare", *folders, "--group-by", "side,variant", "--json"],
                             capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    groups = {(g["values"]["side"], g["values"]["variant"]): g for g in result["groups"]}
    return groups, result["differences"]


def cell_text(summary):
    if not summary:
        return "-"
    return f"{summary['mean']:.2f} ± {summary['sd']:.2f}" if "sd" in summary else f"{summary['mean']:.2f}"


def table(schedule, results, variants, tolerance=1.5, drop_last=False):
    cells = {}
    folder = os.path.join(results, schedule + ("-drop_last" if drop_last else ""))
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        r = json.load(open(os.path.join(folder, name)))
        cells.setdefault((r["side"], r["variant"]), []).append(r)
    groups, differences = grouped(cells)
    print(f"\nschedule {schedule} ({folder}); mean ± sample sd over seeds (sbcl-run compare --group-by side,variant)")
    print("| run | seeds | top-1 | many | medium | class 5 |")
    print("|---|---|---|---|---|---|")
    means = {}
    for variant in variants:
        for side in ("authors", "ours", "ours_paired"):
            g = groups.get((side, variant))
            if side == "ours_paired" and not g:
                continue
            metrics = g["metrics"] if g else {}
            c5 = g["per_class"][5] if g and len(g["per_class"]) > 5 and "mean" in g["per_class"][5] else None
            means[(side, variant)] = metrics["top1"]["mean"] if "top1" in metrics else float("nan")
            seeds = ",".join(str(s) for s in g["seeds"]) if g else ""
            print(f"| {side} `{variant}` | {seeds or '-'} | " + " | ".join(cell_text(metrics.get(k)) for k in ("top1", "many", "medium"))
                  + f" | {cell_text(c5)} |")
    for d in differences:
        # Ours against the authors' per variant, and rank against supcon per side; not the crossed pairs.
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
        ok = abs(a - o) <= tolerance
        verdict &= ok
        print(f"{variant}: ours − authors = {o - a:+.2f} top-1 points ({'within' if ok else 'NOT within'} {tolerance})")
    for variant in variants:
        # Paired: the same seed's authors' cell and ours from the authors' initial weights.
        authors = {r["seed"]: r for r in cells.get(("authors", variant), [])}
        pairs = [(r["seed"], r["top1"] - authors[r["seed"]]["top1"]) for r in cells.get(("ours_paired", variant), []) if r["seed"] in authors]
        if pairs:
            diffs = [d for _, d in sorted(pairs)]
            print(f"{variant}, paired (ours from the authors' initial weights − authors, same seed): "
                  + ", ".join(f"seed {seed} {d:+.2f}" for seed, d in sorted(pairs)) + f"; mean {sum(diffs) / len(diffs):+.2f}")
    if "rank" in variants and "supcon" in variants:
        for side in ("authors", "ours"):
            gain = means[(side, "rank")] - means[(side, "supcon")]
            if math.isnan(gain):
                continue
            print(f"{side}: SBCL gain over SupCon {gain:+.2f} top-1 points")
            verdict &= gain > 0 or side == "authors"
    return verdict


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--schedule", choices=sorted(SCHEDULES), default="short")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--variants", default="rank,supcon")
    p.add_argument("--sides", default="ours,authors")
    p.add_argument("--results", default=os.path.join(ROOT, "docs", "fidelity", "results"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--table-only", action="store_true")
    p.add_argument("--drop-last", action="store_true",
                   help="ours drops each epoch's last partial batch, as the anchor script does (SimCLR/main.py keeps it, "
                        "and so do we by default); cells go to <schedule>-drop_last, the authors' cells too")
    a = p.parse_args()
    variants = a.variants.split(",")
    if not a.table_only:
        for seed in range(a.seeds):
            for variant in variants:
                for side in a.sides.split(","):
                    run_cell(side, variant, seed, a.schedule, a.results, a.threads, a.drop_last)
    sys.exit(0 if table(a.schedule, a.results, variants, drop_last=a.drop_last) else 1)


if __name__ == "__main__":
    main()
