#!/usr/bin/env bash
# The libjpeg shim under AddressSanitizer + UndefinedBehaviorSanitizer (clang), over the JPEG test
# fixtures and, when scripts/fuzz.sh has run, the fuzz corpus and findings. Exit 1 on any report.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.build/fuzz
mkdir -p "$out"
clang -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -I Sources/CJPEG \
    Fuzz/C/jpeg_shim_check.c -ljpeg -o "$out/jpeg-shim-check" > "$out/jpeg-shim-check.build.log" 2>&1 \
    || { cat "$out/jpeg-shim-check.build.log" >&2; exit 2; }
files=(Tests/DatasetsTests/Fixtures/images/*.jpg Tests/DatasetsTests/Fixtures/images/*/train/*/*.JPEG
       Tests/DatasetsTests/Fixtures/images/folder/*/*/*.jpg Tests/DatasetsTests/Fixtures/moco/files/*.jpg)
[ -d "$out/corpus/jpeg" ] && files+=("$out"/corpus/jpeg/*)
ls "$out"/findings/jpeg-* > /dev/null 2>&1 && files+=("$out"/findings/jpeg-*)
existing=()
for f in "${files[@]}"; do [ -f "$f" ] && existing+=("$f"); done
"$out/jpeg-shim-check" "${existing[@]}"
