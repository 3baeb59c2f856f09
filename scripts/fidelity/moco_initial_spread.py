"""Do ours' and the authors' initial MoCo networks come from the same distribution?

Compares the standard deviation of every query-encoder weight tensor (convolutions, the MLP head)
and of the queue in our initial network — an `encoder.safetensors` from a run of one KCL epoch at
lr 1e-30, which leaves the draw as it was — with the same tensors in the authors' initial
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


ours = read_safetensors(sys.argv[1])
theirs = [torch.load(p, map_location="cpu", weights_only=False)["state_dict"] for p in sys.argv[2:]]
rows, outside = 0, []
for name in theirs[0]:
    short = name.removeprefix("module.")
    if theirs[0][name].numel() < 2 or not theirs[0][name].is_floating_point():
        continue
    spread = [float(t[name].double().std()) for t in theirs]
    weights = short.startswith("encoder_q.") and (short.endswith("weight") or short.endswith("bias")) and max(spread) > 0
    if short in ours and (weights or short == "queue"):
        rows += 1
        value = float(ours[short].astype(np.float64).std())
        if not 0.9 * min(spread) <= value <= 1.1 * max(spread):
            outside.append((short, value, min(spread), max(spread)))
        if short in ("encoder_q.conv1.weight", "encoder_q.fc.0.weight", "queue"):
            print(f"{short}: ours {value:.5f}, authors {min(spread):.5f}–{max(spread):.5f}")
print(f"{rows} tensors compared; outside 0.9–1.1× the authors' range: {outside or 'none'}")
