"""Do ours' and the authors' initial MoCo networks come from the same distribution?

Compares the standard deviation and the kurtosis (normal 3, uniform 1.8) of every query-encoder
weight tensor (convolutions, the MLP head) in our initial network — an `encoder.safetensors` from a run of one KCL epoch at
lr 1e-30, which leaves the weights as drawn (not the queue: an epoch refills it with keys) — with the same tensors in the authors' initial
checkpoints (moco_initial_checkpoint.py, one per seed), and prints the tensors whose value falls
outside [0.9 × the authors' smallest, 1.1 × their largest].

    python3 moco_initial_spread.py <our encoder.safetensors> <their seed-0 .pth.tar> [<seed 1> ...]
"""
import json
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def read_safetensors(path):
    raw = open(path, "rb").read()
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + size])
    out = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] not in DTYPES:
            continue
        start, end = entry["data_offsets"]
        out[name] = np.frombuffer(raw[8 + size + start:8 + size + end], dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"] or [-1])
    return out


def kurtosis(values):
    x = np.asarray(values, np.float64).ravel()
    x = x - x.mean()
    return float((x ** 4).mean() / (x ** 2).mean() ** 2)


ours = read_safetensors(sys.argv[1])
theirs = [torch.load(p, map_location="cpu", weights_only=False)["state_dict"] for p in sys.argv[2:]]
rows, outside = 0, []
for name in theirs[0]:
    short = name.removeprefix("module.")
    if theirs[0][name].numel() < 2 or not theirs[0][name].is_floating_point():
        continue
    spread = [float(t[name].double().std()) for t in theirs]
    weights = short.startswith("encoder_q.") and (short.endswith("weight") or short.endswith("bias")) and max(spread) > 0
    if short in ours and weights:
        rows += 1
        value = float(ours[short].astype(np.float64).std())
        if not 0.9 * min(spread) <= value <= 1.1 * max(spread):
            outside.append((short, value, min(spread), max(spread)))
        if short in ("encoder_q.conv1.weight", "encoder_q.layer4.1.conv2.weight", "encoder_q.fc.0.weight"):
            print(f"{short}: sd ours {value:.5f}, authors {min(spread):.5f}–{max(spread):.5f}; "
                  f"kurtosis ours {kurtosis(ours[short]):.2f}, authors' seed 0 {kurtosis(theirs[0][name].numpy()):.2f}")
print(f"{rows} tensors compared; outside 0.9–1.1× the authors' range: {outside or 'none'}")
