#!/usr/bin/env bash
# Side-by-side speed of one MoCo first-stage step (ImageNet-LT): ours (sbcl-bench step --moco) and
# the authors' moco.py + KCL through ../shared/anchors/torch_moco_step.py, alternating the two so
# both see the same machine load; prints each pair and the median ratio (ours / pytorch, >1 = faster).
#   PYTHON=/path/to/venv/bin/python SBCL_REF=/path/to/JackHck-SBCL scripts/bench/compare_moco_with_pytorch.sh [rounds] [batch] [size] [K] [arch]
# Defaults: 1 round, batch 32, 224×224, K 65536, resnet50 (tens of seconds per step on 2 cores).
# Both run KCL (k = 6) on the same [B, 1 + K] logits; ours is the training loop's own step (MoCoStep).
# Needs a release build of sbcl-bench and a Python with torch and torchvision (never needed by the tests).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-1}; batch=${2:-32}; size=${3:-224}; queue=${4:-65536}; arch=${5:-resnet50}
python=${PYTHON:-python3}
anchor=${ANCHOR:-/work/shared/anchors/torch_moco_step.py}
: "${SBCL_REF:?set SBCL_REF to a checkout of JackHck/SBCL}"
steps=${STEPS:-2}
bench=.build/release/sbcl-bench
[ -x "$bench" ] || swift build -c release --product sbcl-bench
[ "$arch" = resnet50 ] || echo "note: the anchor always runs resnet50; --arch $arch makes the ratio meaningless" >&2
field() { sed -E "s/.*\"$1\": ?([0-9.]+).*/\1/" <<<"$2"; }
ratios=()
for r in $(seq "$rounds"); do
  ours=$("$bench" step --moco --arch "$arch" --batch "$batch" --size "$size" --queue "$queue" --steps "$steps" --warmup 1 --threads 2 --json)
  theirs=$(THREADS=2 STEPS="$steps" SBCL_REF="$SBCL_REF" "$python" "$anchor" "$batch" "$size" "$queue" | tail -1)
  o=$(field images_per_s "$ours"); t=$(field images_per_s "$theirs")
  ratios+=("$(python3 -c "print($o/$t)")")
  echo "round $r: moco step ($arch, batch $batch, ${size}x${size}, K $queue) ours $o img/s ($(field ms_per_step "$ours") ms/step), pytorch $t img/s ($(field step_s "$theirs") s/step)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "median speed ratio (ours / pytorch, >1 = faster): moco step $(median "${ratios[@]}")"
