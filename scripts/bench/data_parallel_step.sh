#!/usr/bin/env bash
# The data-parallel speed check (docs/performance.md), side by side: the first-stage step of one global batch on one process ×
# 2 threads against `mpirun -np 2` × 1 thread, in ROUNDS alternating rounds (default 3).
# Usage: scripts/bench/data_parallel_step.sh [ROUNDS]   (SBCL_BENCH: the sbcl-bench binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
bench=${SBCL_BENCH:-.build/release/sbcl-bench}
rounds=${1:-3}
root=(); [ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
for r in $(seq "$rounds"); do
  one=$("$bench" step --threads 2 --json | tr -d '\n' | grep -o '"images_per_s":[0-9.]*')
  two=$(mpirun "${root[@]}" --bind-to none -np 2 --mca btl_vader_single_copy_mechanism none "$bench" step --threads 1 --json 2>/dev/null \
        | tr -d '\n' | grep -o '"images_per_s":[0-9.]*\|"allreduce_ms":[0-9.]*\|"exchange_share":[0-9.]*' | tr '\n' ' ')
  echo "round $r  1 process × 2 threads: $one   2 ranks × 1 thread: $two"
done
