"""Checks that files written by our Swift writer load in PyTorch and numpy.
Usage:
  SBCL_EXPORT_DIR=/tmp/x swift test --filter IOCheckpointTests/testExportForPyTorchCheck
  /work/venv/bin/python scripts/goldens/check_swift_written.py /tmp/x
"""
import sys
import os
import numpy as np
import torch
from safetensors.torch import load_file
from safetensors import safe_open

from reference import resnet, fixture_path

d = sys.argv[1]
model = resnet.SupConResNet(feat_dim=128)
state = load_file(os.path.join(d, "checkpoint.safetensors"))
model.load_state_dict(state, strict=True)
ref = load_file(fixture_path("resnet32_golden_weights.safetensors"))
assert all(torch.equal(state[k], ref[k]) for k in ref), "tensor values differ"
with safe_open(os.path.join(d, "checkpoint.safetensors"), "pt") as f:
    assert f.metadata() == {"written_by": "sbcl"}, f.metadata()
x = np.load(os.path.join(d, "input.npy"))
assert x.dtype == np.float32 and x.shape == (4, 3, 32, 32)
assert np.array_equal(x, load_file(fixture_path("resnet32_golden.safetensors"))["input"].numpy())
ints = np.load(os.path.join(d, "ints.npy"))
assert ints.dtype == np.int64 and ints.tolist() == [[1, -2, 3], [4, 5, 6]]
print("OK: checkpoint loads into SupConResNet (strict), metadata kept, .npy files load in numpy")
