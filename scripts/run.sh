#!/usr/bin/env bash
# The main job: installs what it needs (scripts/setup.sh main: no MPI, Slurm, OpenCL or browser),
# builds sbcl-run, and runs it. With no arguments it runs the embedded default recipe (SBCL on the
# real Fashion-MNIST at imbalance 100).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh main
swift build -c release --product sbcl-run
exec .build/release/sbcl-run "$@"
