#!/usr/bin/env bash
# Installs NVRTC, NVIDIA's run-time CUDA C++ compiler, from PyPI into .deps/nvrtc (ignored by git):
# it needs no GPU and no driver, so the tests compile every CUDA kernel on any machine
# (Tests/CUDABackendTests/NVRTCCompileTests.swift, docs/cuda.md). About 80 MB to download, once.
# Prints the library folder; exits non-zero when pip cannot install it.
set -euo pipefail
cd "$(dirname "$0")/.."
version=12.9.86
target=.deps/nvrtc
lib=$target/nvidia/cuda_nvrtc/lib
if [ ! -e "$lib/libnvrtc.so.12" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$target" \
    "nvidia-cuda-nvrtc-cu12==$version" >&2
  # The wheel's alternative build of the same library is unused: half the folder's size.
  rm -f "$lib"/*.alt.so*
fi
echo "$lib"
