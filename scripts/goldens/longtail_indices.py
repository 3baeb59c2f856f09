#!/usr/bin/env python3
"""Golden files for the long-tailed selection (Datasets/LongTail.swift).

Reproduces the reference's IMBALANCECIFAR.gen_imbalanced_data selection with numpy's legacy
RandomState (np.random.seed + np.random.shuffle class by class) and writes, per case, one
little-endian int32 .npy file of the selected indices in selection order (class 0 first), plus
raw-shuffle goldens for the legacy bounded-integer draw.

Usage: python3 scripts/goldens/longtail_indices.py [OUT_DIR]
(default Tests/DatasetsTests/Fixtures/longtail). Needs numpy; Fashion-MNIST labels are read from
/usr/share/datasets/fashion-mnist (Debian package dataset-fashion-mnist).
"""
import gzip
import os
import sys

import numpy as np


def counts_per_class(total, num_classes, profile, factor):
    img_max = total / num_classes
    if profile == "exp":
        return [int(img_max * (factor ** (c / (num_classes - 1.0)))) for c in range(num_classes)]
    if profile == "step":
        half = num_classes // 2
        return [int(img_max)] * half + [int(img_max * factor)] * half
    return [int(img_max)] * num_classes


def select(labels, num_classes, profile, factor, seed):
    np.random.seed(seed)
    counts = counts_per_class(len(labels), num_classes, profile, factor)
    targets = np.array(labels, dtype=np.int64)
    chosen = []
    for c, n in zip(np.unique(targets), counts):
        idx = np.where(targets == c)[0]
        np.random.shuffle(idx)
        chosen.append(idx[:n])
    return np.concatenate(chosen).astype("<i4")


def synthetic_labels(total, num_classes, seed):
    """Balanced labels in a scrambled order; the Swift test rebuilds them from labels_*.npy."""
    rs = np.random.RandomState(seed)
    return rs.permutation(np.repeat(np.arange(num_classes), total // num_classes)).astype("u1")


def fashion_labels():
    path = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"
    with gzip.open(path, "rb") as f:
        raw = f.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=8)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "Tests/DatasetsTests/Fixtures/longtail"
    os.makedirs(out, exist_ok=True)
    c10 = synthetic_labels(50000, 10, 2023)
    c100 = synthetic_labels(50000, 100, 2024)
    np.save(os.path.join(out, "labels_cifar10.npy"), c10)
    np.save(os.path.join(out, "labels_cifar100.npy"), c100)
    cases = [
        ("cifar10_exp_0.01_seed0", c10, 10, "exp", 0.01, 0),
        ("cifar100_exp_0.01_seed0", c100, 100, "exp", 0.01, 0),
        ("cifar10_step_0.1_seed7", c10, 10, "step", 0.1, 7),
        ("fashion_mnist_exp_0.01_seed0", fashion_labels(), 10, "exp", 0.01, 0),
        ("fashion_mnist_exp_0.1_seed3", fashion_labels(), 10, "exp", 0.1, 3),
    ]
    for name, labels, k, profile, factor, seed in cases:
        np.save(os.path.join(out, name + ".npy"), select(labels, k, profile, factor, seed))
    # Raw legacy shuffles of arange(n): exercise random_interval's masks for several sizes.
    for n, seed in [(1, 5), (2, 5), (3, 1), (17, 42), (1000, 0), (70000, 123)]:
        rs = np.random.RandomState(seed)
        a = np.arange(n, dtype=np.int64)
        rs.shuffle(a)
        np.save(os.path.join(out, "shuffle_n%d_seed%d.npy" % (n, seed)), a.astype("<i4"))


if __name__ == "__main__":
    main()
