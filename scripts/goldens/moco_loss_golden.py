"""Golden values for the MoCo-side losses of the authors' ImageNet-LT code (moco/loss.py: KCL,
SupConLoss_rank, SupConLoss_ccl, called as moco/main.py calls them), written to
Tests/EngineTests/Fixtures/moco_loss_golden.safetensors.

Cases `m<k>.*`:
  m<k>.logits [B,1+K] f32   MoCo logits [q·k, q·queue] of L2-normalised vectors (not divided by τ);
                            absent when the case names another case's logits in its metadata (from=m<j>)
  m<k>.labels [B] i64, m<k>.subclasses [B] i64              the batch's class and subclass labels
  m<k>.queue_labels [K] i64, m<k>.queue_subclasses [K] i64  queue_t and queue_l (−1: empty slot)
  m<k>.uniforms [k·B] f32   (kcl only) what the reference's torch.rand(B) returns, draw after draw
  m<k>.loss [] f64          the reference's value, evaluated in float64 from the float32 logits
  m<k>.grad [B,1+K] f32     d loss / d logits (absent for the value-only large cases)
The header metadata `m<k>` names the reference class and arguments, e.g. "kcl draws=6 temperature=0.07",
"rank temperature=0.07 class_temperature=0.12 gamma=0.2", "ccl temperature=0.07 gamma=0.2",
with `from=m<j>` when the logits are case j's and `value_only=1` when there is no gradient.

As main.py calls them: KCL(K, k=6, temperature=0.07)(logits, target, queue_t);
SupConLoss_rank(K, temperature=0.07)(logits, target, queue_t, subclass, queue_l) (ranking
temperature 0.12, grama 0.2); SupConLoss_ccl(K)(...) likewise (gramma 0.2, temperature 0.07).
The queue labels are passed as [1, K], the shape of moco.py's buffers.

KCL draws with torch.rand; here torch.rand is replaced by a function that hands out the stored
uniforms in order (B per call, one per query, queries without positives included), so the sampled
positives are reproducible. The uniforms are multiples of 2⁻²⁴ like torch.rand's float32 values,
and include 0 and 1 − 2⁻²⁴.

The script also checks, with an independent float64 implementation, that KCL's
`mask_pos_view_class[:, queue_label.size(1):] = 0` changes nothing: the mask is B × K and
queue_label.size(1) is K, so the slice is empty.

Subclass ids are unique across classes (label · 3 + cluster), as main.py's cluster() makes them.
The cases include: queue slots of −1, a class present in the batch but not in the queue (a query
with no queue positive), subclasses absent from the queue, the all-(−1) queue of the first step,
and a value-only case at B = 32, K = 4096.

Usage: /work/venv/bin/python scripts/goldens/moco_loss_golden.py  (SBCL_REF: the checkout, default /work/ref/SBCL)
       ... moco_loss_golden.py --bench [THREADS=2]: writes nothing; times forward + backward of the three
       reference classes at B = 256, K = 65536 on float32 logits (best of 3 after a warm-up), the figure
       MoCoLossTests.testBenchmarkProductionSize measures for ours (SBCL_MOCO_LOSS_BENCH=1).
"""
import importlib.util
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import save_file

REF = os.environ.get("SBCL_REF", "/work/ref/SBCL")
torch.Tensor.cuda = lambda self, *a, **k: self
nn.Module.cuda = lambda self, *a, **k: self
torch.cuda.FloatTensor = torch.FloatTensor
# moco/loss.py under its own name: SimCLR/loss.py (reference.py) is also called `loss`.
_spec = importlib.util.spec_from_file_location("moco_loss", os.path.join(REF, "moco", "loss.py"))
L = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(L)



def bench():
    threads = int(os.environ.get("THREADS", "2"))
    torch.set_num_threads(threads)
    B, K = 256, 65536
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 1000, (B,), generator=g)
    qt = torch.randint(0, 1000, (1, K), generator=g)
    subs, ql = labels * 4 + torch.randint(0, 4, (B,), generator=g), qt * 4 + torch.randint(0, 4, (1, K), generator=g)
    x = (torch.rand(B, 1 + K, generator=g) * 2 - 1).requires_grad_()
    for name, crit, args in [("kcl", L.KCL(K=K, k=6, temperature=0.07), (labels, qt)),
                             ("rank", L.SupConLoss_rank(K=K, temperature=0.07), (labels, qt, subs, ql)),
                             ("ccl", L.SupConLoss_ccl(K=K), (labels, qt, subs, ql))]:
        times = []
        for _ in range(4):
            x.grad = None
            t0 = time.perf_counter()
            crit(x, *args).backward()
            times.append(time.perf_counter() - t0)
        print(f"reference {name} B={B} K={K} threads={threads} torch {torch.__version__}: "
              f"forward+backward {min(times[1:]):.3f} s (best of 3 after a warm-up)")


if "--bench" in sys.argv:
    bench()
    sys.exit(0)

OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "EngineTests",
                                    "Fixtures", "moco_loss_golden.safetensors"))
rng = np.random.RandomState(2024)
tensors, meta = {}, {}
count = 0


def normalised(n, d):
    x = rng.randn(n, d)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def logits_for(B, K, D=16):
    q, k, queue = normalised(B, D), normalised(B, D), normalised(K, D)
    pos = np.sum(q * k, axis=1, keepdims=True)
    return torch.from_numpy(np.concatenate([pos, q @ queue.T], axis=1).astype(np.float32)).contiguous()


def uniforms(n):
    u = rng.randint(0, 1 << 24, size=n).astype(np.float64)
    u[0], u[-1] = 0, (1 << 24) - 1
    return torch.from_numpy((u * 2.0 ** -24).astype(np.float32))


class FedRand:
    """Stands in for torch.rand(n, device=...): the next n stored uniforms."""

    def __init__(self, values):
        self.values, self.at = values, 0

    def __call__(self, n, device=None, **kw):
        out = self.values[self.at:self.at + n].clone()
        assert out.numel() == n, "ran out of fed uniforms"
        self.at += n
        return out


def kcl_independent(x, labels, queue_labels, u, draws, t):
    """KCL without the mask_pos_view_class line: key + deduplicated sampled positives, mean −log softmax."""
    B = x.shape[0]
    log_prob = torch.log_softmax(x / t, dim=1)
    total = 0.0
    for i in range(B):
        pos = [j for j in range(queue_labels.numel()) if queue_labels[j] == labels[i]]
        chosen = {0}
        for d in range(draws):
            if pos:
                chosen.add(pos[int(np.floor(np.float32(u[d * B + i]) * np.float32(len(pos))))] + 1)
        total += -sum(log_prob[i, c] for c in chosen) / len(chosen)
    return total / B


def add(kind, logits32, labels, subs, qlabels, qsubs, value_only=False, logits_from=None):
    global count
    k = count
    count += 1
    B, K = logits32.shape[0], logits32.shape[1] - 1
    x = logits32.double().requires_grad_()
    qt, ql = qlabels.view(1, -1), qsubs.view(1, -1)
    if kind == "kcl":
        u = uniforms(6 * B)
        saved, torch.rand = torch.rand, FedRand(u)
        try:
            value = L.KCL(K=K, k=6, temperature=0.07)(x, labels, qt)
            assert torch.rand.at == u.numel(), "KCL consumed fewer uniforms than k × B"
        finally:
            torch.rand = saved
        check = kcl_independent(x.detach(), labels, qlabels, u, 6, 0.07)
        assert abs(float(check) - value.item()) <= 1e-12 * abs(value.item()), (float(check), value.item())
        tensors[f"m{k}.uniforms"] = u
        desc = "kcl draws=6 temperature=0.07"
    elif kind == "rank":
        value = L.SupConLoss_rank(K=K, temperature=0.07)(x, labels, qt, subs, ql)
        desc = "rank temperature=0.07 class_temperature=0.12 gamma=0.2"
    elif kind == "ccl":
        value = L.SupConLoss_ccl(K=K)(x, labels, qt, subs, ql)
        desc = "ccl temperature=0.07 gamma=0.2"
    else:
        raise ValueError(kind)
    if logits_from is None:
        tensors[f"m{k}.logits"] = logits32
    else:
        desc += f" from=m{logits_from}"
    tensors[f"m{k}.labels"] = labels.long().clone()
    tensors[f"m{k}.subclasses"] = subs.long().clone()
    tensors[f"m{k}.queue_labels"] = qlabels.long().clone()
    tensors[f"m{k}.queue_subclasses"] = qsubs.long().clone()
    tensors[f"m{k}.loss"] = value.detach().reshape(())
    if value_only:
        desc += " value_only=1"
    else:
        value.backward()
        tensors[f"m{k}.grad"] = x.grad.float().contiguous()
    meta[f"m{k}"] = desc
    print(f"m{k}", desc, "B", B, "K", K, "loss", value.item())
    return k


def queue_for(K, C, empty):
    """Queue labels of classes 0..C−2 (class C−1 never in the queue), subclass label·3 + {0, 1}
    (cluster 2 never in the queue), `empty` slots of −1 at the end (the queue fills from 0)."""
    qt = torch.from_numpy(rng.randint(0, C - 1, size=K))
    ql = qt * 3 + torch.from_numpy(rng.randint(0, 2, size=K))
    if empty:
        qt[K - empty:] = -1
        ql[K - empty:] = -1
    return qt, ql


# Small cases: B = 8, K = 64, 5 classes; queries 0 and 1 are of class 4 (no queue positive), query
# 2 of subclass 2 (cluster 2: no queue entry of its subclass), the others random.
B, K, C = 8, 64, 5
labels = torch.tensor([4, 4, 1, 0, 1, 2, 3, 0])
subs = labels * 3 + torch.tensor([0, 2, 2, 1, 0, 1, 0, 0])
qt, ql = queue_for(K, C, empty=16)
x = logits_for(B, K)
first = add("kcl", x, labels, subs, qt, ql)
add("rank", x, labels, subs, qt, ql, logits_from=first)
add("ccl", x, labels, subs, qt, ql, logits_from=first)

# The first step: every queue slot empty.
empty = -torch.ones(K, dtype=torch.int64)
x = logits_for(B, K)
first = add("kcl", x, labels, subs, empty, empty.clone())
add("rank", x, labels, subs, empty, empty.clone(), logits_from=first)
add("ccl", x, labels, subs, empty, empty.clone(), logits_from=first)

# Value only at B = 32, K = 4096, 10 classes, a quarter of the queue empty.
B, K, C = 32, 4096, 10
labels = torch.from_numpy(rng.randint(0, C, size=B))
subs = labels * 3 + torch.from_numpy(rng.randint(0, 3, size=B))
qt, ql = queue_for(K, C, empty=K // 4)
x = logits_for(B, K)
first = add("kcl", x, labels, subs, qt, ql, value_only=True)
add("rank", x, labels, subs, qt, ql, value_only=True, logits_from=first)
add("ccl", x, labels, subs, qt, ql, value_only=True, logits_from=first)

meta["moco_cases"] = str(count)
save_file(tensors, OUT, metadata=meta)
print("wrote", OUT)
