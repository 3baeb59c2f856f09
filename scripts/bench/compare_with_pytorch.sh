#!/usr/bin/env bash
# Side-by-side speed against the authors' PyTorch code (../shared/anchors/torch_step.py for the step
# and inference, torch_loss_kmeans.py for the loss with its backward and one k-means pass),
# alternating the two so that both see the same machine load; prints the kernel set and CPU model,
# each pair, our step's fraction of the machine's peak, and the median ratios.
#   PYTHON=/path/to/venv/bin/python SBCL_REF=/path/to/JackHck-SBCL scripts/bench/compare_with_pytorch.sh [rounds] [batch] [size] [channels]
# Needs a release build of sbcl-bench and a Python with torch (never needed by the tests).
#   ISA=avx2 restricts both sides to AVX2 + FMA on an AVX-512 machine, to stand in for an AVX2-only
#   CPU: our SBCL_KERNELS=avx2 and OpenBLAS's Haswell kernels; PyTorch's ATEN_CPU_CAPABILITY=avx2
#   and oneDNN's ONEDNN_MAX_CPU_ISA=AVX2.
set -euo pipefail
if [ "${ISA:-}" = avx2 ]; then
  export SBCL_KERNELS=avx2 OPENBLAS_CORETYPE=Haswell ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2
  echo "ISA=avx2: both sides restricted to AVX2 + FMA"
fi
cd "$(dirname "$0")/../.."
rounds=${1:-3}; batch=${2:-128}; size=${3:-32}; channels=${4:-3}
python=${PYTHON:-python3}
anchor=${ANCHOR:-../shared/anchors/torch_step.py}
loss_anchor=${LOSS_ANCHOR:-../shared/anchors/torch_loss_kmeans.py}
: "${SBCL_REF:?set SBCL_REF to a checkout of JackHck/SBCL}"
bench=.build/release/sbcl-bench
[ -x "$bench" ] || swift build -c release --product sbcl-bench
step_ratios=(); infer_ratios=(); loss_ratios=(); kmeans_ratios=()
field() { sed -E "s/.*\"$1\": ?([0-9.]+).*/\1/" <<<"$2"; }
# A field of a JSON line as text (strings such as the CPU model; n/a when absent, e.g. no peak
# without a known clock).
jfield() { python3 -c 'import json, sys; print(json.loads(sys.argv[2]).get(sys.argv[1], "n/a"))' "$1" "$2"; }
for r in $(seq "$rounds"); do
  ours_step=$("$bench" step --batch "$batch" --size "$size" --channels "$channels" --steps 3 --warmup 1 --threads 2 --json)
  if [ "$r" = 1 ]; then
    echo "sbcl-bench: kernel set $(jfield kernel_set "$ours_step"), CPU $(jfield cpu "$ours_step")"
  fi
  ours_infer=$("$bench" infer --size "$size" --channels "$channels" --steps 3 --threads 2 --json)
  theirs=$(THREADS=2 STEPS=3 SBCL_REF="$SBCL_REF" "$python" "$anchor" "$batch" "$size" "$channels")
  s_ours=$(field images_per_s "$ours_step")
  i_ours=$(field images_per_s "$ours_infer")
  s_theirs=$(grep -oE '[0-9.]+ images/s' <<<"$theirs" | head -1 | cut -d' ' -f1)
  i_theirs=$(grep -oE 'eval encoder: [0-9.]+' <<<"$theirs" | cut -d' ' -f3)
  step_ratios+=("$(python3 -c "print($s_ours/$s_theirs)")")
  infer_ratios+=("$(python3 -c "print($i_ours/$i_theirs)")")
  echo "round $r: step ours $s_ours img/s, pytorch $s_theirs img/s; infer ours $i_ours img/s, pytorch $i_theirs img/s"
  echo "round $r: step ours $(field gflops "$ours_step") GFLOP/s (convs), fraction of peak $(jfield fraction_of_peak "$ours_step") of $(jfield peak_gflops "$ours_step") GFLOP/s"
  ours_loss=$("$bench" loss --threads 2 --json)
  ours_kmeans=$("$bench" kmeans --threads 2 --repeats 1 --json)
  theirs_lk=$(THREADS=2 SBCL_REF="$SBCL_REF" "$python" "$loss_anchor" | tail -1)
  l_ours=$(field loss_ms_b1024 "$ours_loss"); l_theirs=$(field loss_ms_b1024 "$theirs_lk")
  k_ours=$(field kmeans_ms_10000x128_k100_35it "$ours_kmeans"); k_theirs=$(field kmeans_ms_10000x128_k100_35it "$theirs_lk")
  loss_ratios+=("$(python3 -c "print($l_theirs/$l_ours)")")
  kmeans_ratios+=("$(python3 -c "print($k_theirs/$k_ours)")")
  echo "round $r: loss+backward ours $l_ours ms, pytorch $l_theirs ms; k-means ours $k_ours ms ($(field iterations "$ours_kmeans") iterations), pytorch $k_theirs ms"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "median speed ratio (ours / pytorch, >1 = faster): step $(median "${step_ratios[@]}"), infer $(median "${infer_ratios[@]}"), loss+backward $(median "${loss_ratios[@]}"), k-means $(median "${kmeans_ratios[@]}")"
