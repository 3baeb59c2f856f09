"""The table at the end of scripts/device/cuda_check.sh --remote: our steps beside the authors'.
Reads OUT/results.jsonl (sbcl-bench lines), OUT/anchor.jsonl (torch_gpu_steps.py lines) and
OUT/anchor_cpu.txt (torch_step.py lines); prints a table and writes OUT/summary.json.
Usage: python summarize.py OUT"""
import json, os, re, sys

out = sys.argv[1]

def lines(name):
    path = os.path.join(out, name)
    return open(path).read().splitlines() if os.path.exists(path) else []

ours = [json.loads(l) for l in lines("results.jsonl") if l.startswith("{")]
anchor = {}
for l in lines("anchor.jsonl"):
    try:
        r = json.loads(l); anchor[r["workload"]] = r
    except (ValueError, KeyError):
        pass
torch_cpu = {}
for l in lines("anchor_cpu.txt"):
    m = re.match(r"threads=(\d+) torch .*?: ([\d.]+) ms/step, ([\d.]+) images/s", l)
    if m:
        torch_cpu[int(m.group(1))] = float(m.group(3))

rows, summary = [], {"ours": ours, "anchor_gpu": anchor, "torch_cpu_images_per_s": torch_cpu}
step_anchor = anchor.get("step_resnet32_rank", {}).get("images_per_s")
infer_anchor = anchor.get("infer_resnet32", {}).get("images_per_s")
moco_anchor = anchor.get("step_moco_resnet50_kcl", {}).get("images_per_s")
for r in ours:
    o = r.get("ours") or {}
    ips = o.get("images_per_s")
    ref = None
    if r["label"].startswith("cuda-infer"):
        ref = infer_anchor
    elif r["label"].startswith("cuda-moco"):
        ref = moco_anchor
    elif r["label"].startswith("cuda"):
        ref = step_anchor
    elif r["label"].startswith("cpu-"):
        ref = torch_cpu.get(int(r["label"][4:]))
    ratio = ips / ref if ips and ref else None
    rows.append((r["label"], o.get("batch"), ips or o.get("views_per_s"), ref, ratio, o.get("gflops"), o.get("host_wait_share")))
    r["ratio_to_reference"] = ratio
# img/s: images (loader: views) per second; wait: the share of the step the host spent blocked on
# the GPU (near 0: the host issuing the work bounds the step).
print(f"{'run':30} {'batch':>6} {'ours img/s':>11} {'ref img/s':>10} {'ratio':>6} {'GFLOP/s':>9} {'wait':>5}")
for label, batch, ips, ref, ratio, gflops, wait in rows:
    f = lambda v, p=1: "-" if v is None else f"{v:.{p}f}"
    print(f"{label:30} {batch or '-':>6} {f(ips):>11} {f(ref):>10} {f(ratio, 2):>6} {f(gflops):>9} {f(wait, 2):>5}")
smoke = []
for l in lines("smoke.jsonl"):
    try:
        r = json.loads(l); smoke.append({"run": r["run"], "top1": r["metrics"].get("top1")})
    except (ValueError, KeyError, AttributeError):
        pass
summary["smoke_cuda"] = smoke
for r in smoke:
    print(f"smoke on cuda {r['run']}: top-1 {r['top1']}")
for name, r in anchor.items():
    if "ms_per_step_by_kind" in r:
        print(f"anchor {name}: {r['kernels_per_step']} kernels/step, ms/step by kind {r['ms_per_step_by_kind']}")
    else:
        print(f"anchor {name}: {r.get('images_per_s')} images/s, {r.get('step_ms')} ms/step on {r.get('gpu')}")
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
