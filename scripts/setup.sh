#!/usr/bin/env bash
# Installs the Debian packages the build and the default job need, when any is missing.
set -euo pipefail
# chromium: the headless browser the report test opens the HTML reports in.
# openmpi-bin, libopenmpi-dev: data-parallel training under mpirun (loaded at run time; see README).
# slurm-wlm, munge: the single-node Slurm the sweep-launcher tests start on localhost.
# pocl-opencl-icd, ocl-icd-opencl-dev, opencl-headers, libclblast-dev: the OpenCL backend (loaded at
# run time; see docs/opencl.md) and PoCL, the OpenCL CPU device its tests run on without a GPU.
pkgs=(libopenblas-dev libjpeg-dev libyaml-dev dataset-fashion-mnist zlib1g-dev chromium
      openmpi-bin libopenmpi-dev slurm-wlm munge
      pocl-opencl-icd ocl-icd-opencl-dev opencl-headers libclblast-dev)
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
