"""Writes the tensor-file fixtures the IO tests read: .npy files saved by numpy itself (several
dtypes, byte orders, memory orders and format versions) and a safetensors file saved by
safetensors.torch.save_file (PyTorch). Values are simple functions of the element index so the
Swift tests can recompute them.

Usage: /work/venv/bin/python scripts/goldens/io_fixtures.py  (needs numpy; torch + safetensors for
the .safetensors file). Output: Tests/EngineTests/Fixtures/io/.
"""
import os
import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "EngineTests", "Fixtures", "io")
os.makedirs(OUT, exist_ok=True)


def ramp(shape, dtype):
    """Element k (C order) = k * 0.5 - 3 for floats, k - 3 for signed, k for unsigned, k % 2 for bool."""
    n = int(np.prod(shape))
    k = np.arange(n)
    if np.dtype(dtype).kind == "f":
        v = k * 0.5 - 3
    elif np.dtype(dtype).kind == "i":
        v = k - 3
    elif np.dtype(dtype).kind == "b":
        v = k % 2
    else:
        v = k
    return v.astype(dtype).reshape(shape)


def save(name, array, version=None):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        np.lib.format.write_array(f, array, version=version)


save("f4_2x3.npy", ramp((2, 3), "<f4"))
save("f8_4.npy", ramp((4,), "<f8"))
save("f2_5.npy", ramp((5,), "<f2"))
save("i8_3x2.npy", ramp((3, 2), "<i8"))
save("i4_2x2x2.npy", ramp((2, 2, 2), "<i4"))
save("u1_7.npy", ramp((7,), "|u1"))
save("b1_4.npy", ramp((4,), "|b1"))
save("scalar_f4.npy", np.array(2.5, dtype="<f4"))
save("empty_f4_0x3.npy", np.zeros((0, 3), dtype="<f4"))
save("bigendian_f4_2x3.npy", ramp((2, 3), ">f4"))
save("bigendian_i8_3.npy", ramp((3,), ">i8"))
# Fortran order: the same logical array as ramp((2, 3, 4)), stored column-major.
save("fortran_f4_2x3x4.npy", np.asfortranarray(ramp((2, 3, 4), "<f4")))
save("v2_f4_2x3.npy", ramp((2, 3), "<f4"), version=(2, 0))
save("v3_f4_2x3.npy", ramp((2, 3), "<f4"), version=(3, 0))

try:
    import torch
    from safetensors.torch import save_file
except ImportError:
    print("torch/safetensors not installed: skipped torch_saved.safetensors")
else:
    tensors = {
        "weight.f32": torch.from_numpy(ramp((2, 3), "<f4")),
        "weight.f64": torch.from_numpy(ramp((4,), "<f8")),
        "half.f16": torch.from_numpy(ramp((5,), "<f2")),
        "brain.bf16": torch.from_numpy(ramp((5,), "<f4")).to(torch.bfloat16),
        "count.i64": torch.tensor(7, dtype=torch.int64),
        "ids.i32": torch.from_numpy(ramp((2, 2, 2), "<i4")),
        "bytes.u8": torch.from_numpy(ramp((7,), "|u1")),
        "mask.bool": torch.from_numpy(ramp((4,), "|b1")),
        "empty.f32": torch.zeros(0, 3),
    }
    save_file(tensors, os.path.join(OUT, "torch_saved.safetensors"), metadata={"format": "pt", "epoch": "12"})
print("wrote", sorted(os.listdir(OUT)))
