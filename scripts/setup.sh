#!/usr/bin/env bash
# Installs the Debian packages the build and the default job need, when any is missing.
set -euo pipefail
# chromium: the headless browser the report test opens the HTML reports in.
pkgs=(libopenblas-dev libjpeg-dev libyaml-dev dataset-fashion-mnist zlib1g-dev chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update
  $sudo_cmd apt-get install -y "${missing[@]}"
fi
