"""Probe: how much of the authors' k-means labelling is decided by rounding at full scale.

Re-runs the reference's re-clustering (kmeans_gpu.kmeans, cosine, tol 1e-3, 35 iterations, numpy
seeded as recorded) on the projections a full-scale trajectory folder stored
(trajectory_reference.py: cluster<e>.features, .seed, .subclasses), twice: as the reference computes
its distances (a broadcast product summed over the last axis), then with the same distances taken by
a matmul (what any BLAS-based k-means does: the same arithmetic, other rounding). The share of
labels that change is the part of the labelling that near-ties and rounding decide, which is why
TrajectoryParityTests asks for exact labels at the fixture's size only.

Usage: SBCL_REF=<JackHck/SBCL> python kmeans_rounding_probe.py FOLDER [EPOCH]
"""
import os, sys
import numpy as np, torch
from safetensors.numpy import load_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "goldens"))
import reference  # noqa: E402,F401
from reference import kmeans_gpu  # noqa: E402

folder = sys.argv[1]; epoch = sys.argv[2] if len(sys.argv) > 2 else None
d = load_file(os.path.join(folder, "steps.safetensors"))
key = f"cluster{epoch}" if epoch else sorted(k.split(".")[0] for k in d if k.endswith(".features"))[0]
feats = torch.from_numpy(d[key + ".features"]); labels = d["subset_labels"]; recorded = d[key + ".subclasses"]
seed = int(d[key + ".seed"])
counts = [int((labels == c).sum()) for c in range(10)]
ncl = [t // max(min(counts), 10) or 1 for t in counts]
starts = np.cumsum([0] + counts)


def cluster():
    np.random.seed(seed); out, off = [], 0
    for c, part in enumerate(torch.split(feats, counts)):
        ids = kmeans_gpu.kmeans(X=part, num_clusters=ncl[c], distance="cosine", tol=1e-3, iter_limit=35, tqdm_flag=False)[0] \
            if ncl[c] > 1 else torch.zeros(len(part), dtype=torch.long)
        out.append(ids.long() + off); off += ncl[c]
    return torch.cat(out).numpy()


same = cluster()
print(f"{key}: the reference's k-means again, as recorded: {np.mean(same == recorded):.4f} of the labels equal")


def matmul_cosine(data1, data2, device=None):
    a = data1 / data1.norm(dim=-1, keepdim=True); b = data2 / data2.norm(dim=-1, keepdim=True)
    return 1 - a @ b.T


kmeans_gpu.pairwise_cosine = matmul_cosine
other = cluster()
print(f"{key}: distances by a matmul instead: {np.mean(other == recorded):.4f} equal; per class (k_c, share equal): "
      + ", ".join(f"{c} ({ncl[c]}, {np.mean(other[starts[c]:starts[c + 1]] == recorded[starts[c]:starts[c + 1]]):.3f})" for c in range(10)))
