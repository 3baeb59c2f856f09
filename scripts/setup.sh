#!/usr/bin/env bash
# Installs the Debian packages a job needs, when any is missing:
#   scripts/setup.sh main   what the build and the main job (scripts/run.sh) need; the default
#   scripts/setup.sh test   that, plus what the tests and the optional features need (scripts/test.sh)
# Set-up times on a fresh machine: README, "Set-up".
set -euo pipefail
set_name="${1:-main}"
# The build and the main job: OpenBLAS, libjpeg, libyaml (Yams), zlib, and the real Fashion-MNIST.
main=(libopenblas-dev libjpeg-dev libyaml-dev zlib1g-dev dataset-fashion-mnist)
# chromium: the headless browser the report test opens the HTML reports in.
# openmpi-bin, libopenmpi-dev: data-parallel training under mpirun (loaded at run time; see README).
# slurm-wlm, munge: the single-node Slurm the sweep-launcher tests start on localhost.
# pocl-opencl-icd, ocl-icd-opencl-dev, opencl-headers, libclblast-dev: the OpenCL backend (loaded at
# run time; see docs/opencl.md) and PoCL, the OpenCL CPU device its tests run on without a GPU.
optional=(chromium openmpi-bin libopenmpi-dev slurm-wlm munge
          pocl-opencl-icd ocl-icd-opencl-dev opencl-headers libclblast-dev)
case "$set_name" in
  main) pkgs=("${main[@]}") ;;
  test) pkgs=("${main[@]}" "${optional[@]}") ;;
  *) echo "usage: scripts/setup.sh [main|test]" >&2; exit 2 ;;
esac
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
