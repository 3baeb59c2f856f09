#!/usr/bin/env bash
# The CUDA backend's check on a GPU machine that has no Swift toolchain and no network, in two halves.
#
#   scripts/device/cuda_check.sh            here: build, then pack the test bundle, sbcl-bench, the
#                                           shared libraries they load, the PyTorch anchors and the
#                                           authors' model code into .device/sbcl-cuda.tar.xz (ignored
#                                           by git; with the tracked files under the tool's 64 MiB)
#   scripts/device/cuda_check.sh --remote   there, with $OUT set: the CUDA tests (SBCL_REQUIRE_CUDA=1),
#                                           `sbcl-bench step --device cuda` beside the authors' code on
#                                           CUDA (torch_gpu_steps.py), and `sbcl-bench step --device
#                                           cpu` beside PyTorch at 1, 2, 4, 8, 16 threads; JSON and
#                                           logs into $OUT; about 6 minutes, 8 at most
#   scripts/device/cuda_check.sh --remote --device cpu
#                                           the rehearsal here (OUT=/tmp/out): every part that needs no
#                                           GPU, with the CUDA parts run as they would fail without one
#
# The device tool's call (the brief of docs/cuda.md):
#   run(command: "scripts/device/cuda_check.sh --remote", carry: [".device/sbcl-cuda.tar.xz"], timeout_s: 540)
#
# Why not a static Swift standard library: the test bundle links XCTest, which the toolchain ships
# only as a shared library over the shared Foundation; so the bundle, sbcl-bench and the Swift
# runtime's shared libraries travel together, compressed, and LD_LIBRARY_PATH finds them there.
# Env (pack): SBCL_REF (a checkout of JackHck/SBCL; default the local mirror's git folder).
# Env (remote): PYTHON (the one with PyTorch, default python3), CPU_THREADS (default "1 2 4 8 16";
# "none" skips the CPU runs),
# CPU_BATCH (default 256) for the CPU scaling runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bundle=.device/sbcl-cuda

# MARK: pack (here)
pack() {
  swift build -c release -Xswiftc -enable-testing --build-tests
  local bin; bin=$(swift build -c release -Xswiftc -enable-testing --show-bin-path)
  rm -rf "$bundle" .device/sbcl-cuda.tar.xz
  mkdir -p "$bundle/bin" "$bundle/lib" "$bundle/anchors" "$bundle/ref/SBCL"
  for f in sbclPackageTests.xctest sbcl-bench sbcl-run; do
    cp "$bin/$f" "$bundle/bin/$f"
    strip --strip-unneeded "$bundle/bin/$f"
  done
  # Every shared library the two load, but the C library's own and libstdc++/libgcc_s (a GPU
  # machine's are as new or newer): the Swift runtime, Foundation, XCTest, OpenBLAS, libjpeg, ...
  ldd "$bundle"/bin/* | awk '/=> \// { print $3 }' | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
      ld-linux*|libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libutil.so*|libgcc_s.so*|libstdc++.so*|libresolv.so*) ;;
      *) cp -L "$lib" "$bundle/lib/" ;;
    esac
  done
  strip --strip-unneeded "$bundle"/lib/* 2>/dev/null || true
  cp /work/shared/anchors/torch_gpu_steps.py /work/shared/anchors/torch_step.py "$bundle/anchors/" 2>/dev/null \
    || cp ../shared/anchors/torch_gpu_steps.py ../shared/anchors/torch_step.py "$bundle/anchors/"
  local ref=${SBCL_REF:-/work/.mirror/JackHck+SBCL/repo}
  if [ -d "$ref/SimCLR" ]; then
    cp "$ref"/SimCLR/*.py "$bundle/ref/SBCL/" && mkdir -p "$bundle/ref/SBCL/SimCLR" "$bundle/ref/SBCL/moco"
    mv "$bundle"/ref/SBCL/*.py "$bundle/ref/SBCL/SimCLR/"; cp "$ref"/moco/*.py "$bundle/ref/SBCL/moco/"
  else
    # A git folder (the mirror): its Python files only (the data lists are large and may be absent).
    git --git-dir="$ref" ls-tree -r --name-only HEAD SimCLR moco | grep '\.py$' | while read -r f; do
      mkdir -p "$bundle/ref/SBCL/$(dirname "$f")" && git --git-dir="$ref" show "HEAD:$f" > "$bundle/ref/SBCL/$f"
    done
  fi
  cp scripts/device/summarize.py scripts/device/precision_spread.py scripts/device/torch_moco_profile.py "$bundle/"
  # The head of Fashion-MNIST (3,000 training and 2,000 test images, at least 282 and 188 of every
  # class): recipes/smoke.yaml keeps the first 150 and 100 of each class in file order, so it
  # selects the same images from these files as from the whole set (the full files do not fit the
  # 64 MiB beside the pack); also the source of sbcl-bench jpeg-augment's photos.
  python3 scripts/device/fashion_mnist_head.py "${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}" "$bundle/fashion-mnist" 3000 2000
  tar -C .device -cf - sbcl-cuda | xz -6 -T2 > .device/sbcl-cuda.tar.xz
  rm -rf "$bundle"
  local size; size=$(stat -c %s .device/sbcl-cuda.tar.xz)
  echo "packed .device/sbcl-cuda.tar.xz: $((size / 1048576)) MiB"
  # What travels: the tracked files and the pack, under the device tool's 64 MiB (2 MiB to spare).
  local tree; tree=$(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)
  echo "the working tree that travels: $(((tree + size) / 1048576)) MiB with the pack"
  if [ $((tree + size)) -gt $((62 * 1048576)) ]; then echo "error: the tree and the pack are over 62 MiB" >&2; exit 1; fi
}

# MARK: remote (there)
remote() {
  local device=cuda
  [ "${1:-}" = "--device" ] && device=$2
  : "${OUT:?--remote writes into \$OUT}"
  local started=$SECONDS dir=/tmp/sbcl-cuda
  local python=${PYTHON:-python3}
  rm -rf "$dir"
  tar -xJf "$root/.device/sbcl-cuda.tar.xz" -C /tmp 2>/dev/null \
    || "$python" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall("/tmp")' "$root/.device/sbcl-cuda.tar.xz"
  # The packed libraries for our binaries only (PyTorch keeps the machine's own).
  ours() { LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"; }
  # NVIDIA's libraries from the Python that holds PyTorch (its nvidia-* wheels), named explicitly.
  local found
  found=$("$python" - <<'PY' 2>/dev/null || true
import os, sys
try:
    import nvidia
    roots = list(nvidia.__path__)
except Exception:
    roots = []
dirs = [os.path.join(r, s) for r in roots for s in ("cu13/lib", "cublas/lib", "cuda_nvrtc/lib", "cudnn/lib")]
print(":".join(d for d in dirs if os.path.isdir(d)))
PY
)
  export SBCL_CUDA_LIBRARY_PATH="${SBCL_CUDA_LIBRARY_PATH:+$SBCL_CUDA_LIBRARY_PATH:}$found"
  export VIRTUAL_ENV=${VIRTUAL_ENV:-$("$python" -c 'import sys; print(sys.prefix)' 2>/dev/null || true)}
  {
    echo "SBCL_CUDA_LIBRARY_PATH=$SBCL_CUDA_LIBRARY_PATH"; echo "VIRTUAL_ENV=$VIRTUAL_ENV"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1 || true
    nproc; "$python" -c 'import torch; print("torch", torch.__version__, torch.cuda.is_available())' 2>&1 || true
    ls $(echo "$found" | tr ':' ' ') 2>/dev/null | grep -E 'lib(cublas|nvrtc|cudnn)\.so' || true
    echo "libraries not found by the binaries (none expected):"; ours ldd "$dir"/bin/* | grep "not found" || true
  } > "$OUT/environment.txt" 2>&1
  cat "$OUT/environment.txt"
  local bench=$dir/bin/sbcl-bench results=$OUT/results.jsonl
  : > "$results"
  bench() {  # bench LABEL TIMEOUT SUBCOMMAND ARGS... : one sbcl-bench line, labelled, into results.jsonl
    local label=$1 limit=$2 command=$3; shift 3
    local line
    echo "=== $label: sbcl-bench $command $*" >> "$OUT/stderr.log"
    if line=$(ours timeout "$limit" "$bench" "$command" --json "$@" 2>>"$OUT/stderr.log" | tail -1) && [ -n "$line" ]; then
      echo "{\"label\": \"$label\", \"ours\": $line}" | tee -a "$results"
    else
      echo "{\"label\": \"$label\", \"ours\": null, \"error\": \"sbcl-bench $command $* failed or timed out (stderr.log)\"}" | tee -a "$results"
    fi
  }
  step() { local label=$1 limit=$2; shift 2; bench "$label" "$limit" step "$@"; }

  # 1. The CUDA tests: every op against the CPU backend, the ResNet-32 step, transfers, memory
  #    errors, the NVRTC compile, the library search. Must not skip on the GPU machine.
  # One process per test class: a crash (a bad launch can take the process down) loses one class.
  local require=1; [ "$device" = cuda ] || require=0
  : > "$OUT/cuda_tests.log"
  for c in NVRTCCompileTests LibrarySearchTests FakeDriverTests ElementwiseParityTests ReductionAndGEMMParityTests \
           LayerParityTests RowParityTests TransferAndMemoryTests ClassifierOnDeviceTests EncoderStepOnDeviceTests \
           ResNetStepParityTests ContrastiveLossOnDeviceTests MoCoLossOnDeviceTests MoCoStepOnDeviceTests; do
    echo "=== $c" >> "$OUT/cuda_tests.log"
    [ $((SECONDS - started)) -lt 200 ] || { echo "CUDA tests $c: skipped, out of time" | tee -a "$OUT/cuda_tests.log"; continue; }
    local rc=0 status
    SBCL_REQUIRE_CUDA=$require SBCL_REQUIRE_NVRTC=$require ours timeout 120 "$dir/bin/sbclPackageTests.xctest" \
      "CUDABackendTests.$c" > /tmp/sbcl-cuda-class.log 2>&1 || rc=$?
    cat /tmp/sbcl-cuda-class.log >> "$OUT/cuda_tests.log"
    status=$(grep -E "Executed [0-9]+ tests?," /tmp/sbcl-cuda-class.log | tail -1 | sed 's/^[[:space:]]*//' || true)
    if grep -q "Executed 0 tests" /tmp/sbcl-cuda-class.log; then rc=1; status="no such tests in the bundle (packed before they existed?)"; fi
    [ $rc = 0 ] || grep -E ": error: |Fatal|signal|Crash" /tmp/sbcl-cuda-class.log | head -5 || true
    printf 'CUDA tests %-30s %s: %s\n' "$c" "$([ $rc = 0 ] && echo passed || echo "FAILED (exit $rc)")" "${status:-no summary (crashed?)}" \
      | tee -a "$OUT/cuda_tests.log"
  done
  grep -E "^parity " "$OUT/cuda_tests.log" | sort -t: -k2 | tail -40 || true

  # 2. Our step on the GPU beside the authors' (batch 1024, two 32x32 views; then inference-only
  #    comparisons come from the anchor), float32 and PyTorch's default TF32 convolutions.
  #    Convolutions through cuDNN (the default), and through im2col + cuBLAS for comparison; then
  #    inference (batch 1024, features read back) and the MoCo ResNet-50 + KCL step (batch 32, 224 px).
  if [ "$device" = cuda ]; then
    step cuda-float32 120 --device cuda --batch 1024 --steps 20 --warmup 3
    SBCL_CUDA_PRECISION=tf32-convolutions step cuda-tf32-convolutions 90 --device cuda --batch 1024 --steps 20 --warmup 3
    if [ -n "${IM2COL:-}" ]; then  # IM2COL=1: the convolutions through im2col + cuBLAS too, for comparison
      SBCL_CUDA_CONVOLUTIONS=im2col step cuda-im2col-float32 90 --device cuda --batch 1024 --steps 10 --warmup 2
    fi
    SBCL_CUDA_PRECISION=tf32-convolutions SBCL_CUDA_PROFILE=1 step cuda-profile-tf32-convolutions 90 --device cuda \
      --batch 1024 --steps 3 --warmup 1
    bench cuda-infer-float32 60 infer --device cuda --batch 1024 --steps 20 --warmup 3
    SBCL_CUDA_PRECISION=tf32-convolutions bench cuda-infer-tf32-convolutions 60 infer --device cuda --batch 1024 --steps 20 --warmup 3
    step cuda-moco-float32 120 --moco --device cuda --size 224 --batch 32 --steps 10 --warmup 3
    SBCL_CUDA_PRECISION=tf32-convolutions step cuda-moco-tf32-convolutions 90 --moco --device cuda --size 224 --batch 32 --steps 10 --warmup 3
    SBCL_CUDA_PRECISION=tf32-convolutions SBCL_CUDA_PROFILE=1 step cuda-moco-profile 90 --moco --device cuda --size 224 --batch 32 --steps 3 --warmup 1
  fi

  local anchors=$dir/anchors
  # TF32's (and bf16 autocast's) change of one step's gradients against float32: ours beside PyTorch's.
  if [ "$device" = cuda ]; then
    SBCL_CUDA_PRECISION=float32 ours timeout 60 "$bench" step --device cuda --batch 256 --dump-gradients /tmp/sbcl-g32.safetensors \
      2>>"$OUT/stderr.log" && SBCL_CUDA_PRECISION=tf32-convolutions ours timeout 60 "$bench" step --device cuda --batch 256 \
      --dump-gradients /tmp/sbcl-gtf32.safetensors 2>>"$OUT/stderr.log" \
      && SBCL_REF=$dir/ref/SBCL timeout 90 "$python" "$dir/precision_spread.py" /tmp/sbcl-g32.safetensors /tmp/sbcl-gtf32.safetensors 256 \
        2>>"$OUT/stderr.log" | tee "$OUT/precision.json" || echo "precision spread failed (stderr.log)"
  fi
  for workload in cifar infer moco; do
    SBCL_REF=$dir/ref/SBCL STEPS=20 WARMUP=5 timeout 100 "$python" "$anchors/torch_gpu_steps.py" "$workload" \
      2>>"$OUT/stderr.log" | tee -a "$OUT/anchor.jsonl" || echo "anchor $workload failed (stderr.log)"
  done
  # Where the authors' MoCo step spends its GPU time (beside our cuda-moco-profile in stderr.log).
  if [ "$device" = cuda ]; then
    SBCL_REF=$dir/ref/SBCL timeout 90 "$python" "$dir/torch_moco_profile.py" 2>>"$OUT/stderr.log" \
      | tee -a "$OUT/anchor.jsonl" || echo "torch MoCo profile failed (stderr.log)"
  fi

  # Two data-parallel ranks on the one GPU (both take local GPU 0), staged through the host, against
  # two CPU ranks: one step's gradients (docs/cuda.md, "Several ranks"). Only where mpirun exists.
  if [ "$device" = cuda ] && command -v mpirun > /dev/null; then
    for d in cuda cpu; do
      ours timeout 90 mpirun --allow-run-as-root --oversubscribe -np 2 -x LD_LIBRARY_PATH -x SBCL_CUDA_LIBRARY_PATH "$bench" step \
        --device "$d" --depth 20 --size 16 --batch 16 --threads 2 --dump-gradients "/tmp/sbcl-ranks-$d.safetensors" \
        >> "$OUT/stderr.log" 2>&1 || echo "two ranks on $d failed (stderr.log)"
    done
    "$python" -c 'import sys, numpy as np; from safetensors.numpy import load_file; a, b = (load_file(f) for f in sys.argv[1:3]); import json; print(json.dumps({"two_ranks_cuda_vs_cpu_worst_relative_gradient": max(float(np.linalg.norm(a[k].astype(np.float64) - b[k]) / max(np.linalg.norm(b[k]), 1e-30)) for k in b)}))' \
      /tmp/sbcl-ranks-cuda.safetensors /tmp/sbcl-ranks-cpu.safetensors 2>>"$OUT/stderr.log" | tee -a "$OUT/precision.json" \
      || echo "two-rank comparison failed (stderr.log)"
  fi

  # 3. The smoke recipe end to end on the GPU, three seeds (its CPU seeds' spread is measured
  #    elsewhere on the same files: docs/cuda.md), on the head of Fashion-MNIST packed with us.
  if [ "$device" = cuda ]; then
    local smoke=/tmp/sbcl-smoke
    rm -rf "$smoke"
    ( ours timeout 150 "$dir/bin/sbcl-run" run recipes/smoke.yaml "stages.data.root=$dir/fashion-mnist" --device cuda \
        --seeds 3 --cache-dir "$smoke/cache" --runs-dir "$smoke/runs" --quiet > "$smoke.log" 2>&1 ) \
      || echo "smoke on cuda failed (smoke.jsonl)"
    { tail -20 "$smoke.log"
      for m in "$smoke"/runs/*/*/metrics.json "$smoke"/runs/*/metrics.json; do
        [ -f "$m" ] && echo "{\"run\": \"$(basename "$(dirname "$m")")\", \"metrics\": $(tr -d '\n' < "$m")}"
      done; } > "$OUT/smoke.jsonl" 2>&1
    grep -o '"top1"[^,]*' "$OUT/smoke.jsonl" | sed 's/^/smoke on cuda: /' || true
  fi

  # 4. The loaders on the GPU machine's cores: can they feed the steps above? CIFAR-size views
  #    (synthetic 32×32, two views an image) and JPEG decoding + MoCo v2 at 224 px.
  for threads in ${LOADER_THREADS:-1 4 16}; do
    [ $((SECONDS - started)) -lt 440 ] || { echo "skipping the loaders at $threads threads: out of time"; continue; }
    bench "loader-$threads" 40 loader --threads "$threads" --batch 1024 --size 32 --steps 4
    bench "jpeg-augment-$threads" 60 jpeg-augment --threads "$threads" --images 256 --batch 64 --steps 4 \
      --fashion-mnist "$dir/fashion-mnist"
  done

  # 5. The CPU path past 2 cores: ours and PyTorch's at 1, 2, 4, 8, 16 threads (batch 256).
  for threads in ${CPU_THREADS:-1 2 4 8 16}; do
    [ "$threads" = none ] && continue
    [ $((SECONDS - started)) -lt 420 ] || { echo "skipping the CPU run at $threads threads: out of time"; continue; }
    step "cpu-$threads" 60 --device cpu --threads "$threads" --batch "${CPU_BATCH:-256}" --steps 3 --warmup 1
    THREADS=$threads STEPS=3 SBCL_REF=$dir/ref/SBCL timeout 90 "$python" "$anchors/torch_step.py" "${CPU_BATCH:-256}" \
      2>>"$OUT/stderr.log" | sed "s/^/threads=$threads /" | tee -a "$OUT/anchor_cpu.txt" || true
  done
  "$python" "$dir/summarize.py" "$OUT" || true
  echo "cuda_check: $((SECONDS - started)) s"
}

case "${1:-}" in
  --remote) shift; remote "$@" ;;
  "") pack ;;
  *) echo "usage: scripts/device/cuda_check.sh [--remote [--device cpu]]" >&2; exit 2 ;;
esac
