"""The anchor's Fashion-MNIST-LT (shared/anchors/torch_fmnist_lt.py), for the fidelity scripts.

`load()` reads the training split and selects n_c = int(nmax · factor^(c/9)) images per class as the
anchor (and IMBALANCECIFAR) does: np.random.seed(0), then a shuffle of each class's indices in
class order. It leaves numpy's global generator exactly where the anchor's selection leaves it, so a
caller that seeds torch and numpy next draws what the anchor draws.
"""
import gzip

import numpy as np

ROOT = "/usr/share/datasets/fashion-mnist/"


def load(nmax=6000, factor=0.01):
    """(xlt [N, 28, 28] uint8, ylt [N] int64, counts, mean, std): the long-tailed subset grouped by
    class, its class counts, and the mean and population std of its pixels in [0, 1] (float64)."""
    xtr = np.frombuffer(gzip.open(ROOT + "train-images-idx3-ubyte.gz").read(), np.uint8, offset=16).reshape(-1, 28, 28)
    ytr = np.frombuffer(gzip.open(ROOT + "train-labels-idx1-ubyte.gz").read(), np.uint8, offset=8).astype(np.int64)
    np.random.seed(0)
    counts = [int(nmax * factor ** (c / 9)) for c in range(10)]
    sel = []
    for c in range(10):
        idx = np.where(ytr == c)[0]; np.random.shuffle(idx); sel.append(idx[:counts[c]])
    sel = np.concatenate(sel)
    xlt, ylt = xtr[sel], ytr[sel]
    return xlt, ylt, counts, xlt.mean() / 255, xlt.std() / 255
