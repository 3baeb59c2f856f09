#!/usr/bin/env python3
"""Writes the small PyTorch checkpoint fixtures of Tests/EngineTests/Fixtures/torch/ with torch.save.

Run once on a development machine (PyTorch from PyPI); the tests read the committed files and
never need PyTorch:

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch
    /tmp/venv/bin/python scripts/goldens/torch_checkpoints.py

and checks that PyTorch reads what our writer writes:

    SBCL_EXPORT_DIR=/tmp/x swift test --filter TorchCheckpointTests/testWriteForPyTorchCheck
    /tmp/venv/bin/python scripts/goldens/torch_checkpoints.py --check-written /tmp/x

Each checkpoint has the layout of one the authors' code writes (SimCLR/main.py under
DataParallel, moco/main.py and moco/linear_classify.py under DistributedDataParallel), with
tiny tensors instead of a whole ResNet. expected.json holds, per file, every tensor of its state
dict as PyTorch reads it back: dtype (floating types as float32, which the reader converts to),
shape and values.
"""
import collections
import json
import os
import sys

import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EngineTests", "Fixtures", "torch")


def gen(seed):
    g = torch.Generator().manual_seed(seed)
    return lambda *shape: torch.randn(*shape, generator=g)


def plain_state_dict():
    r = gen(1)
    base = r(4, 6)
    shared = r(10)
    d = collections.OrderedDict()
    d["f32"] = r(2, 3)
    d["f16"] = r(3, 2).half()
    d["bf16"] = r(5).bfloat16()
    d["f64"] = r(2, 2).double()
    d["i64_scalar"] = torch.tensor(7, dtype=torch.long)  # num_batches_tracked
    d["i32"] = torch.arange(-3, 3, dtype=torch.int32)
    d["u8"] = torch.arange(0, 250, 50, dtype=torch.uint8)
    d["bool"] = torch.tensor([True, False, True])
    d["transposed"] = base.t()  # a non-contiguous view: strides (1, 6)
    d["view_a"] = shared[2:5]  # two views of one storage, at offsets 2 and 6
    d["view_b"] = shared[6:10].view(2, 2)
    d["parameter"] = torch.nn.Parameter(r(2, 2))
    d["empty"] = torch.zeros(0, 3)
    return d


def simclr_state_dict():
    """SimCLR/main.py: torch.save(model.state_dict()) of DataParallel(SupConResNet): module.encoder.*, module.head.*."""
    r = gen(2)
    return collections.OrderedDict([
        ("module.encoder.conv1.weight", r(2, 1, 3, 3)),
        ("module.encoder.bn1.weight", r(2)),
        ("module.encoder.bn1.running_mean", r(2)),
        ("module.encoder.bn1.num_batches_tracked", torch.tensor(12)),
        ("module.head.0.weight", r(3, 2)),
        ("module.head.2.bias", r(4)),
    ])


def moco_checkpoint():
    """moco/main.py: {'epoch', 'arch', 'state_dict', 'optimizer'} of DistributedDataParallel(MoCo)."""
    r = gen(3)
    state = collections.OrderedDict([
        ("module.queue_ptr", torch.tensor([4])),
        ("module.queue", torch.nn.functional.normalize(r(4, 8), dim=0)),
        ("module.queue_l", torch.arange(8).view(1, 8)),
        ("module.queue_t", torch.arange(8).view(1, 8) % 3),
        ("module.encoder_q.conv1.weight", r(2, 3, 1, 1)),
        ("module.encoder_q.fc.0.weight", r(3, 2)),
        ("module.encoder_k.conv1.weight", r(2, 3, 1, 1)),
        ("module.encoder_k.fc.0.weight", r(3, 2)),
    ])
    params = [torch.nn.Parameter(state["module.encoder_q.conv1.weight"].clone()),
              torch.nn.Parameter(state["module.encoder_q.fc.0.weight"].clone())]
    optimizer = torch.optim.SGD(params, lr=0.03, momentum=0.9, weight_decay=1e-4)
    sum(p.sum() for p in params).backward()
    optimizer.step()
    return {"epoch": 200, "arch": "resnet50", "state_dict": state, "optimizer": optimizer.state_dict()}, state


def linear_checkpoint():
    """moco/linear_classify.py: {'epoch', 'arch', 'state_dict', 'best_acc1', 'optimizer'} of DataParallel(resnet)."""
    r = gen(4)
    state = collections.OrderedDict([
        ("module.conv1.weight", r(2, 3, 1, 1)),
        ("module.bn1.running_var", r(2).abs()),
        ("module.fc.weight", r(5, 2)),
        ("module.fc.bias", r(5)),
    ])
    return {"epoch": 90, "arch": "resnet50", "state_dict": state, "best_acc1": torch.tensor(41.25),
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": [0, 1]}]}}, state


def describe(state):
    out = collections.OrderedDict()
    for name, t in state.items():
        t = t.detach()
        values = t.float() if t.is_floating_point() else t
        out[name] = {
            "dtype": "float32" if t.is_floating_point() else str(t.dtype).replace("torch.", ""),
            "shape": list(t.shape),
            "values": [float(v) if t.is_floating_point() else int(v) for v in values.reshape(-1).tolist()],
        }
    return out


class Hostile:
    """Pickles as a call of os.system: what a malicious checkpoint looks like."""

    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def check_written(directory):
    """Loads what TorchCheckpointTests.testWriteForPyTorchCheck wrote (SBCL_EXPORT_DIR=DIR)."""
    checkpoint = torch.load(os.path.join(directory, "swift_written.pth.tar"), weights_only=True)
    assert checkpoint["epoch"] == 7 and checkpoint["arch"] == "resnet18" and checkpoint["lr"] == 0.03, checkpoint
    state = checkpoint["state_dict"]
    w = state["module.conv1.weight"]
    assert w.dtype == torch.float32 and tuple(w.shape) == (2, 3, 2, 2)
    assert torch.equal(w.reshape(-1), torch.arange(24, dtype=torch.float32) * 0.25 - 3)
    assert state["module.bn1.num_batches_tracked"].item() == 12
    print(f"OK: torch {torch.__version__} torch.load(weights_only=True) reads the Swift-written checkpoint")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check-written":
        return check_written(sys.argv[2])
    os.makedirs(OUT, exist_ok=True)
    expected = collections.OrderedDict()

    plain = plain_state_dict()
    torch.save(plain, os.path.join(OUT, "state_dict.pth"))
    torch.save(plain, os.path.join(OUT, "state_dict_legacy.pth"), _use_new_zipfile_serialization=False)
    expected["state_dict.pth"] = describe(plain)
    expected["state_dict_legacy.pth"] = describe(plain)

    simclr = simclr_state_dict()
    torch.save(simclr, os.path.join(OUT, "simclr_dataparallel.pth"))
    expected["simclr_dataparallel.pth"] = describe(simclr)

    moco, moco_state = moco_checkpoint()
    torch.save(moco, os.path.join(OUT, "moco_checkpoint.pth.tar"))
    expected["moco_checkpoint.pth.tar"] = describe(moco_state)

    linear, linear_state = linear_checkpoint()
    torch.save(linear, os.path.join(OUT, "linear_checkpoint.pth.tar"))
    expected["linear_checkpoint.pth.tar"] = describe(linear_state)

    torch.save({"weights": torch.ones(2), "payload": Hostile()}, os.path.join(OUT, "hostile_system.pth"))

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"torch_version": torch.__version__, "files": expected}, f, indent=1)
        f.write("\n")
    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")
    print("torch", torch.__version__, file=sys.stderr)


if __name__ == "__main__":
    main()
