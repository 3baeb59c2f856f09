"""Checks that the MoCo files our Swift code writes load in PyTorch: the whole checkpoint into the
authors' moco.MoCo(resnet50, mlp=True, K=16) with strict=True (queue, labels and pointer included),
and the backbone export into torchvision's resnet50 with only fc missing.
Usage:
  SBCL_EXPORT_DIR=/tmp/x swift test -c release --filter MoCoGoldenTests/testExportForPyTorchCheck
  SBCL_REF=/work/ref/SBCL /work/venv/bin/python scripts/goldens/check_moco_written.py /tmp/x
"""
import os
import sys

import torch
import torch.nn as nn
import torchvision
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.environ.get("SBCL_REF", "/work/ref/SBCL"), "moco"))
torch.Tensor.cuda = lambda self, *a, **k: self
nn.Module.cuda = lambda self, *a, **k: self
import moco  # noqa: E402

d = sys.argv[1]
m = moco.MoCo(torchvision.models.resnet50, 1000, 128, 16, 0.999, 0.07, True)
state = load_file(os.path.join(d, "moco_resnet50.safetensors"))
m.load_state_dict(state, strict=True)
assert int(m.queue_ptr[0]) == 4 and m.queue_l[0, :5].tolist() == [5, 6, 7, 8, -1], (m.queue_ptr, m.queue_l)
assert m.queue_t.dtype == torch.int64 and torch.allclose(m.queue.norm(dim=0), torch.ones(16), atol=1e-5)
r = torchvision.models.resnet50()
result = r.load_state_dict(load_file(os.path.join(d, "backbone_resnet50.safetensors")), strict=False)
assert result.missing_keys == ["fc.weight", "fc.bias"] and not result.unexpected_keys, result
print("OK: the MoCo checkpoint loads into moco.MoCo (strict); the backbone into torchvision resnet50 with only fc missing")
