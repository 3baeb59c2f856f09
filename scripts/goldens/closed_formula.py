"""The closed formula that fills a network's state and a test's inputs without weight files.

formula(t, n): element i < n of "tensor" t, u in [-1, 1): splitmix64 of t·golden + i·c1 + 1, its top
24 bits. formula_value(name, shape, t): a state_dict entry from it — conv weights u·√(6 / fan_in),
linear weights u / √fan_in, batch-norm weights and running variances 1 + u/4, biases and running
means u/10 — as float32. Our side computes the same (`TestSupport.GoldenFormula`); the goldens
(resnet_imagenet_golden.py) and the fidelity replays (moco_trajectory_reference.py,
linear_stage_reference.py) import it from here.
"""
import math

import numpy as np
import torch


def formula(t, n):
    """u in [-1, 1) for element i < n of tensor t: splitmix64 of t*golden + i*c1 + 1, top 24 bits."""
    with np.errstate(over="ignore"):
        i = np.arange(n, dtype=np.uint64)
        x = np.uint64(t) * np.uint64(0x9E3779B97F4A7C15) + i * np.uint64(0xBF58476D1CE4E5B9) + np.uint64(1)
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(40)).astype(np.float64) / float(1 << 23) - 1.0


def formula_value(name, shape, t):
    """The state_dict entry `name` of `shape`, tensor index t, as float32."""
    n = int(np.prod(shape)) if len(shape) else 1
    u = formula(t, n)
    if name.endswith("weight") and len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        u = u * (math.sqrt(6.0 / fan_in) if len(shape) == 4 else 1.0 / math.sqrt(fan_in))
    elif name.endswith("weight") or name.endswith("running_var"):
        u = 1.0 + 0.25 * u
    else:  # bias, running_mean
        u = 0.1 * u
    return torch.from_numpy(u.reshape(shape)).float()
