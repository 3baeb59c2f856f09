#!/usr/bin/env bash
# The test command: installs what the build and the tests need (scripts/setup.sh test), then runs
# every test in a release build (tests that train anything are far too slow in a debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
swift build -c release -Xswiftc -enable-testing --build-tests
scripts/fuzz.sh 5  # libFuzzer over the data and tensor file readers and the recipe loader, 5 s each (45 s); docs/hostile-inputs.md
# NVRTC from PyPI: every CUDA kernel compiles in the tests (no GPU needed), so once it is installed
# a missing NVRTC fails them instead of skipping them (Tests/CUDABackendTests/NVRTCCompileTests.swift).
if scripts/setup-cuda-compile.sh >/dev/null; then export SBCL_REQUIRE_NVRTC="${SBCL_REQUIRE_NVRTC:-1}"
else echo "warning: NVRTC could not be installed; the CUDA kernel compile tests will skip" >&2; fi
# setup.sh test installed PoCL: the OpenCL device tests must run here, so a missing device fails them
# instead of skipping them (Tests/OpenCLBackendTests/DeviceUnderTest.swift).
SBCL_REQUIRE_OPENCL="${SBCL_REQUIRE_OPENCL:-1}" swift test -c release -Xswiftc -enable-testing --skip-build "$@"
