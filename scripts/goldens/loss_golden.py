"""Golden values for the contrastive losses and the LDAM loss of the authors (SimCLR/loss.py),
written to Tests/EngineTests/Fixtures/loss_golden.safetensors.

Contrastive cases `c<k>.*` (features in the reference's layout [B, 2, D], L2-normalised, float32):
  c<k>.features [B,2,D] f32, c<k>.labels [B] i64, c<k>.subclasses [B] i64,
  c<k>.class_temperatures [C] f32 (rank only), c<k>.loss [] f64, c<k>.grad [B,2,D] f32 (d loss / d features).
  The header metadata `c<k>` says which reference class and arguments produced it, e.g.
  "rank temperature=0.1 base_temperature=0.07 gamma=0.25 num_class=6".
  - supcon: loss.SupConLoss(temperature, base_temperature)(features, labels)     (main.py warm-up)
  - rank:   loss.SupConLoss_rank(num_class, temperature, ranking_temperature=class_temperatures,
            grama=gamma, base_temperature)(features, labels, subclasses)        (main.py, train_rule Rank)
  - ccl:    loss.SupConLoss_ccl(temperature, grama=gamma, base_temperature)(features, labels, subclasses)
LDAM cases `l<k>.*`: l<k>.logits [N,C] f32, l<k>.targets [N] i64, l<k>.class_counts [C] i64,
  l<k>.weights [C] f32 (absent when unweighted), l<k>.loss [] f64, l<k>.grad [N,C] f32; metadata
  `l<k>` = "ldam max_m=0.5 s=30 weighted=drw|none" or "ce weighted=none".
  weights = the effective-number weights of linear_classify.py (train_rule DRW, beta 0.9999),
  rounded to float32 as torch.FloatTensor does there.

Losses are evaluated in float64 from the stored float32 inputs (class temperatures and LDAM margins
stay float32 inside the reference code, as on the GPU), so the figures carry no float32 rounding.
Subclass ids are unique across classes (offset per class, as main.py's cluster() makes them); the
cases include subclasses holding a single image and classes absent from the batch.

Usage: /work/venv/bin/python scripts/goldens/loss_golden.py
"""
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from reference import loss as L, fixture_path

rng = np.random.RandomState(1234)
tensors, meta = {}, {}


def features(B, D):
    f = torch.nn.functional.normalize(torch.from_numpy(rng.randn(B, 2, D).astype(np.float32)), dim=2)
    return f.contiguous()


def subclasses_for(labels, per_class):
    """Subclass id = label * per_class + a random cluster in [0, per_class)."""
    return labels * per_class + torch.from_numpy(rng.randint(0, per_class, size=len(labels)))


def add_contrastive(k, variant, B, D, C, per_class, temperature, base, gamma=0.25, labels=None, subs=None):
    f32 = features(B, D)
    if labels is None:
        # Leave the last class out of the batch on purpose.
        labels = torch.from_numpy(rng.randint(0, C - 1, size=B))
    if subs is None:
        subs = subclasses_for(labels, per_class)
    f = f32.double().requires_grad_()
    if variant == "supcon":
        crit = L.SupConLoss(temperature=temperature, base_temperature=base)
        value = crit(f, labels)
        desc = f"supcon temperature={temperature} base_temperature={base}"
    elif variant == "rank":
        temps = (0.05 + 0.15 * rng.rand(C)).astype(np.float32)
        tensors[f"c{k}.class_temperatures"] = torch.from_numpy(temps)
        crit = L.SupConLoss_rank(num_class=C, temperature=temperature, ranking_temperature=temps.astype(np.float64),
                                 grama=gamma, base_temperature=base)
        value = crit(f, labels, subs)
        desc = f"rank temperature={temperature} base_temperature={base} gamma={gamma} num_class={C}"
    elif variant == "ccl":
        crit = L.SupConLoss_ccl(temperature=temperature, grama=gamma, base_temperature=base)
        value = crit(f, labels, subs)
        desc = f"ccl temperature={temperature} base_temperature={base} gamma={gamma}"
    else:
        raise ValueError(variant)
    value.backward()
    tensors[f"c{k}.features"] = f32
    tensors[f"c{k}.labels"] = labels.long().clone()
    tensors[f"c{k}.subclasses"] = subs.long().clone()
    tensors[f"c{k}.loss"] = value.detach().reshape(())
    tensors[f"c{k}.grad"] = f.grad.float().contiguous()
    meta[f"c{k}"] = desc
    print(f"c{k}", desc, "B", B, "D", D, "loss", value.item())


cases = [
    ("supcon", 4, 16, 3, 1, 0.1, 0.1),
    ("supcon", 8, 128, 4, 1, 0.1, 0.1),
    ("supcon", 16, 16, 5, 1, 0.07, 0.07),
    ("rank", 4, 16, 3, 2, 0.1, 0.07),
    ("rank", 8, 16, 4, 3, 0.1, 0.07),
    ("rank", 16, 128, 6, 3, 0.1, 0.07),
    ("rank", 16, 16, 5, 4, 0.2, 0.1),
    ("ccl", 8, 16, 4, 2, 0.1, 0.07),
    ("ccl", 16, 128, 6, 3, 0.1, 0.07),
]
for k, (variant, B, D, C, per_class, t, base) in enumerate(cases):
    add_contrastive(k, variant, B, D, C, per_class, t, base)

# A hand-made rank case: every image its own subclass except one pair, one class alone.
k = len(cases)
labels = torch.tensor([0, 0, 0, 1, 1, 2, 3, 3])
subs = torch.tensor([0, 0, 1, 5, 6, 10, 15, 16])
add_contrastive(k, "rank", 8, 16, 5, None, 0.1, 0.07, labels=labels, subs=subs)
# The same batch through ccl and supcon.
add_contrastive(k + 1, "ccl", 8, 16, 5, None, 0.1, 0.07, labels=labels, subs=subs)
add_contrastive(k + 2, "supcon", 8, 16, 5, None, 0.1, 0.1, labels=labels, subs=subs)
# Training-sized batches (B = 256 and an odd 200: the fused kernel's blocked and threaded paths),
# with many subclasses holding one image, as after a re-clustering at k_c up to 100. Their own
# generator, so the cases above and below keep their values.
rng, _saved_rng = np.random.RandomState(99), rng
add_contrastive(k + 3, "rank", 256, 128, 10, 40, 0.1, 0.07)
add_contrastive(k + 4, "ccl", 200, 128, 10, 40, 0.1, 0.07)
rng = _saved_rng


def effective_number_weights(counts, beta=0.9999):
    """linear_classify.py, train_rule 'DRW': (1 - beta) / (1 - beta^n), normalised to sum C, float32."""
    effective_num = 1.0 - np.power(beta, counts)
    w = (1.0 - beta) / np.array(effective_num)
    w = w / np.sum(w) * len(counts)
    return torch.FloatTensor(w)


def add_ldam(k, N, counts, weighted, kind="ldam"):
    C = len(counts)
    logits32 = torch.from_numpy((rng.randn(N, C) * 0.5).astype(np.float32))
    # Cosine-classifier outputs lie in [-1, 1]; clip so the case looks like real ones.
    logits32 = logits32.clamp(-1, 1).contiguous()
    targets = torch.from_numpy(rng.randint(0, C, size=N)).long()
    x = logits32.double().requires_grad_()
    weights = effective_number_weights(np.array(counts)) if weighted else None
    w64 = weights.double() if weights is not None else None
    if kind == "ldam":
        crit = L.LDAMLoss(cls_num_list=counts, max_m=0.5, s=30, weight=w64)
        value = crit(x, targets)
        desc = f"ldam max_m=0.5 s=30 weighted={'drw' if weighted else 'none'}"
    else:
        value = F.cross_entropy(x, targets, weight=w64)
        desc = f"ce weighted={'drw' if weighted else 'none'}"
    value.backward()
    tensors[f"l{k}.logits"] = logits32
    tensors[f"l{k}.targets"] = targets
    tensors[f"l{k}.class_counts"] = torch.tensor(counts, dtype=torch.int64)
    if weights is not None:
        tensors[f"l{k}.weights"] = weights.contiguous()
    tensors[f"l{k}.loss"] = value.detach().reshape(())
    tensors[f"l{k}.grad"] = x.grad.float().contiguous()
    meta[f"l{k}"] = desc
    print(f"l{k}", desc, "loss", value.item())


add_ldam(0, 8, [500, 120, 40, 11, 5], weighted=True)
add_ldam(1, 16, [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50], weighted=True)
add_ldam(2, 8, [500, 120, 40, 11, 5], weighted=False)
add_ldam(3, 8, [500, 120, 40, 11, 5], weighted=True, kind="ce")
add_ldam(4, 8, [500, 120, 40, 11, 5], weighted=False, kind="ce")

meta["contrastive_cases"] = str(len(cases) + 5)
meta["ldam_cases"] = "5"
save_file(tensors, fixture_path("loss_golden.safetensors"), metadata=meta)
