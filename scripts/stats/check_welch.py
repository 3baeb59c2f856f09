#!/usr/bin/env python3
"""The seeds' statistics of `sbcl-run compare --group-by` computed with numpy and scipy, on recorded
metrics, for Tests/ReportingTests/SeedStatisticsTests to check our Swift against (CI needs no Python).

Inputs: the per-seed results of the fidelity harness kept in docs/fidelity/results/short/
(`<side>-<variant>-seed<S>.json`: top1, many, medium, per_class), plus a few hand-made cases at the
edges (two seeds, very unequal spreads, a difference far outside the noise). For each case it writes
both groups' values, n, mean, sample sd (ddof=1), min, max, and for `b − a` Welch's t, the
Welch–Satterthwaite degrees of freedom and the two-sided p (scipy.stats.ttest_ind(equal_var=False)),
to scripts/stats/welch_reference.json.

    python3 -m venv /work/venv-stats && /work/venv-stats/bin/pip install scipy numpy
    /work/venv-stats/bin/python scripts/stats/check_welch.py
"""
import json
import pathlib

import numpy as np
from scipy import stats

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs/fidelity/results/short"
OUT = ROOT / "scripts/stats/welch_reference.json"


def recorded(side, variant, key, index=None):
    values = []
    for seed in range(5):
        cell = json.loads((RESULTS / f"{side}-{variant}-seed{seed}.json").read_text())
        values.append(float(cell[key] if index is None else cell[key][index]))
    return values


def case(name, a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    test = stats.ttest_ind(b, a, equal_var=False)
    summary = lambda x: {"n": int(len(x)), "mean": float(x.mean()), "sd": float(x.std(ddof=1)),
                         "min": float(x.min()), "max": float(x.max())}
    return {"name": name, "a": a.tolist(), "b": b.tolist(), "summary_a": summary(a), "summary_b": summary(b),
            "difference": float(b.mean() - a.mean()), "standard_error": float(np.sqrt(va + vb)),
            "t": float(test.statistic), "df": float(df), "p": float(test.pvalue),
            "t_cdf": float(stats.t.cdf(float(test.statistic), df))}


def main():
    cases = []
    for key in ["top1", "many", "medium"]:
        cases.append(case(f"short {key}: ours supcon − ours rank", recorded("ours", "rank", key), recorded("ours", "supcon", key)))
        cases.append(case(f"short {key}: authors rank − ours rank", recorded("ours", "rank", key), recorded("authors", "rank", key)))
    cases.append(case("short class 5: ours supcon − ours rank", recorded("ours", "rank", "per_class", 5),
                      recorded("ours", "supcon", "per_class", 5)))
    cases.append(case("two seeds each", [61.2, 64.9], [58.0, 58.7]))
    cases.append(case("very unequal spreads", [70.01, 70.02, 70.0, 70.03], [55.0, 80.0, 62.5, 71.0, 90.0, 40.0]))
    cases.append(case("far outside the noise", [50.0, 50.5, 49.5, 50.2], [60.0, 60.4, 59.8, 60.1, 60.3]))
    OUT.write_text(json.dumps({"generator": "scripts/stats/check_welch.py", "numpy": np.__version__,
                               "scipy": __import__("scipy").__version__, "cases": cases}, indent=1) + "\n")
    for c in cases:
        print(f"{c['name']:45s} diff {c['difference']:+8.3f}  se {c['standard_error']:.4f}  t {c['t']:+.4f}  "
              f"df {c['df']:.3f}  p {c['p']:.6g}")


if __name__ == "__main__":
    main()
