"""Golden values for the authors' k-means (SimCLR/kmeans_gpu.py), balanced k-means
(SimCLR/balanced_cluster.py) and the re-clustering step of SimCLR/main.py (cluster counts, class
temperatures, subclass labels), written to Tests/EngineTests/Fixtures/kmeans_golden.safetensors.

k<i>.*  kmeans_gpu.kmeans(X, num_clusters=k, distance='cosine', tol=tol, iter_limit=35, seed=seed):
        k<i>.points [N,D] f32, k<i>.initial_indices [k] i64 (= np.random.seed(seed);
        np.random.choice(N, k, replace=False), what its initialize() draws), k<i>.assignments [N] i64,
        k<i>.centres [k,D] f32, k<i>.iterations [] i64 (iterations run, counted by wrapping
        pairwise_cosine). Metadata k<i> = "kmeans k=.. seed=.. tol=..". No case takes the empty-cluster
        branch (torch.randint is trapped), since that draw is torch's, not reproducible.
b<i>.*  balanced_cluster.balanced_kmean(X, n_clusters=k, init='k-means++', tol=1e-3, iol=50,
        distance='cosine') with its k-means++ seeding replaced by the given b<i>.initial_indices
        (k-means++ draws from a torch.Generator): b<i>.points, b<i>.initial_indices,
        b<i>.assignments, b<i>.centres, b<i>.iterations.
r<i>.*  main.cluster() (train_rule 'Rank') on features ordered by class, r<i>.features [N,128] f32,
        r<i>.class_counts [C] i64, r<i>.cluster_counts [C] i64 (main_worker's formula with M from
        the metadata), r<i>.temperatures [C] f64 (the returned `density`, temperature 0.1),
        r<i>.subclasses [N] i64 (the returned targets) with numpy's global generator seeded by
        np.random.seed(seed) just before the call, so the per-class kmeans initialisations are
        consecutive np.random.choice draws. Metadata r<i> = "recluster temperature=0.1 M=.. seed=..".

Usage: /work/venv/bin/python scripts/goldens/kmeans_golden.py
"""
import sys
import types

import numpy as np
import torch
from safetensors.torch import save_file

import reference
from reference import kmeans_gpu, balanced_cluster, fixture_path

sys.argv = ["main.py"]
import main  # noqa: E402  (the authors' training script; only its cluster() is used)

tensors, meta = {}, {}
rng = np.random.RandomState(4321)


def no_randint(*a, **k):
    raise RuntimeError("empty cluster: the reference draws torch.randint here; pick another case")


class Counter:
    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *a, **k):
        self.calls += 1
        return self.fn(*a, **k)


def blobs(N, D, centres, spread, offset=0.0):
    """Unit vectors around `centres` random directions (plus a shared offset direction)."""
    dirs = rng.randn(centres, D)
    base = rng.randn(D) * offset
    which = rng.randint(0, centres, size=N)
    x = base + dirs[which] + spread * rng.randn(N, D)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return torch.from_numpy(x.astype(np.float32))


def add_kmeans(i, X, k, seed, tol=1e-3):
    np.random.seed(seed)
    init = np.random.choice(len(X), k, replace=False)
    counter = Counter(kmeans_gpu.pairwise_cosine)
    original_cos, original_randint = kmeans_gpu.pairwise_cosine, torch.randint
    kmeans_gpu.pairwise_cosine, torch.randint = counter, no_randint
    try:
        ids, centres = kmeans_gpu.kmeans(X=X.clone(), num_clusters=k, distance="cosine", tol=tol, iter_limit=35,
                                         tqdm_flag=False, seed=seed)
    finally:
        kmeans_gpu.pairwise_cosine, torch.randint = original_cos, original_randint
    tensors[f"k{i}.points"] = X
    tensors[f"k{i}.initial_indices"] = torch.from_numpy(init.astype(np.int64))
    tensors[f"k{i}.assignments"] = ids.long()
    tensors[f"k{i}.centres"] = centres.float().contiguous()
    tensors[f"k{i}.iterations"] = torch.tensor(counter.calls, dtype=torch.int64)
    meta[f"k{i}"] = f"kmeans k={k} seed={seed} tol={tol}"
    print(f"k{i}", meta[f"k{i}"], "N", len(X), "iterations", counter.calls, "sizes", np.bincount(ids.numpy(), minlength=k))


add_kmeans(0, blobs(60, 8, 3, 0.3), 3, seed=0)
add_kmeans(1, blobs(200, 16, 6, 0.6), 6, seed=1)
add_kmeans(2, blobs(150, 32, 4, 0.9), 5, seed=2)
add_kmeans(3, blobs(120, 16, 4, 0.7), 4, seed=3, tol=0.0)  # tol 0: runs the full 35 iterations


def add_balanced(i, X, k, init):
    original_pp, original_cos = balanced_cluster._kmeans_plusplus, balanced_cluster.pairwise_cosine
    counter = Counter(original_cos)
    balanced_cluster._kmeans_plusplus = lambda X, n, **kw: (X[torch.as_tensor(init)].clone(), torch.as_tensor(init))
    balanced_cluster.pairwise_cosine = counter
    try:
        ids, centres = balanced_cluster.balanced_kmean(X.clone(), n_clusters=k, init="k-means++", tol=1e-3, iol=50,
                                                       distance="cosine")
    finally:
        balanced_cluster._kmeans_plusplus, balanced_cluster.pairwise_cosine = original_pp, original_cos
    tensors[f"b{i}.points"] = X
    tensors[f"b{i}.initial_indices"] = torch.tensor(init, dtype=torch.int64)
    tensors[f"b{i}.assignments"] = ids.long()
    tensors[f"b{i}.centres"] = centres.float().contiguous()
    tensors[f"b{i}.iterations"] = torch.tensor(counter.calls, dtype=torch.int64)
    meta[f"b{i}"] = f"balanced k={k} tol=0.001 iol=50"
    print(f"b{i}", "N", len(X), "k", k, "iterations", counter.calls, "sizes", np.bincount(ids.numpy(), minlength=k))


add_balanced(0, blobs(30, 8, 3, 0.4, offset=1.5), 3, [0, 1, 2])
add_balanced(1, blobs(32, 8, 3, 0.5, offset=1.5), 3, [5, 17, 30])
add_balanced(2, blobs(47, 16, 5, 0.6, offset=2.0), 5, [3, 9, 20, 33, 41])

# --- main.py cluster(): counts, temperatures, subclass labels -------------------------------
def add_recluster(prefix, counts, spreads, M, seed, D=128):
    feats = []
    for n, s in zip(counts, spreads):
        centre = rng.randn(D)
        sub = rng.randn(3, D) * 0.8
        x = centre + sub[rng.randint(0, 3, size=n)] + s * rng.randn(n, D)
        feats.append(x / np.linalg.norm(x, axis=1, keepdims=True))
    features = torch.from_numpy(np.concatenate(feats).astype(np.float32))
    # main_worker: cluster_number = [t // max(min(cls_num_list), args.cluster) ...], zeros become 1.
    cluster_number = [t // max(min(counts), M) for t in counts]
    cluster_number = [1 if v == 0 else v for v in cluster_number]
    args = types.SimpleNamespace(cls_num_list=counts, num_classes=len(counts), feat_dim=D, train_rule="Rank",
                                 temperature=0.1, cluster_method=False)
    loader = [([features[s:s + 50]], torch.zeros(len(features[s:s + 50])), torch.zeros(len(features[s:s + 50])))
              for s in range(0, len(features), 50)]
    original_randint = torch.randint
    torch.randint = no_randint
    np.random.seed(seed)
    try:
        targets, density = main.cluster(loader, torch.nn.Identity(), cluster_number, args)
    finally:
        torch.randint = original_randint
    tensors[f"{prefix}.features"] = features
    tensors[f"{prefix}.class_counts"] = torch.tensor(counts, dtype=torch.int64)
    tensors[f"{prefix}.cluster_counts"] = torch.tensor(cluster_number, dtype=torch.int64)
    tensors[f"{prefix}.temperatures"] = torch.from_numpy(np.asarray(density, dtype=np.float64))
    tensors[f"{prefix}.subclasses"] = torch.tensor(targets, dtype=torch.int64)
    meta[prefix] = f"recluster temperature=0.1 M={M} seed={seed}"
    print(prefix, "cluster counts", cluster_number, "temperatures", np.round(density, 5))


def cpu_kmeans(**kw):
    kw["device"] = torch.device("cpu")
    kw["tqdm_flag"] = False
    return kmeans_gpu.kmeans(**kw)


main.kmeans = cpu_kmeans
add_recluster("r0", [60, 35, 20, 12, 9, 6, 4], [0.3, 0.5, 0.8, 0.4, 1.0, 0.6, 0.2], M=10, seed=0)
add_recluster("r1", [40, 30, 22, 15, 10, 8, 6, 5], [0.9, 0.3, 0.6, 0.5, 0.2, 0.8, 0.4, 0.7], M=3, seed=7)

save_file(tensors, fixture_path("kmeans_golden.safetensors"), metadata=meta)
