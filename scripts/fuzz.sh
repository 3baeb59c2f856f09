#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, with AddressSanitizer) of the data and tensor file readers:
# the PNG decoder, the JPEG decoder (through the libjpeg shim), inflate, the split-file parser,
# the IDX and CIFAR (pickle) readers, and the .npy and safetensors readers.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET ...]     (default 5 s each, all targets)
#
# Builds two fuzz executables straight from the sources with swiftc (no package build) under
# .build/fuzz, seeds each target's corpus from the committed test fixtures, and runs each target
# for the given time. The corpus grows in .build/fuzz/corpus/TARGET across runs; a crash, a
# sanitizer report, a timeout or an out-of-memory input is written to .build/fuzz/findings/ and
# fails the script (status 1). Findings become tests (Tests/DatasetsTests/DecoderHostileInputTests.swift).
# See docs/hostile-inputs.md.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-5}"
shift || true
all=(png jpeg inflate split idx cifar npy safetensors)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

if [ "$(uname -s)" != Linux ]; then
    echo "fuzz: skipped: libFuzzer comes with the Linux Swift toolchains (swiftc -sanitize=fuzzer), not Xcode's" >&2
    exit 0
fi
out=.build/fuzz
mkdir -p "$out/findings"
flags=(-parse-as-library -O -g -sanitize=fuzzer,address)

build() {  # build NAME SOURCES... : rebuilds when a source is newer than the binary
    local name="$1"; shift
    local binary="$out/$name"
    if [ -x "$binary" ] && [ -z "$(find "$@" -newer "$binary" 2>/dev/null | head -1)" ]; then return; fi
    echo "fuzz: building $binary" >&2
    swiftc "${flags[@]}" -module-name "${name//-/_}" -I Sources/CJPEG -I Sources/CZlib "$@" -o "$binary" > "$out/$name.build.log" 2>&1 \
        || { cat "$out/$name.build.log" >&2; exit 2; }
}

datasets_sources=(Fuzz/DatasetsFuzz.swift Sources/Datasets/Files/*.swift Sources/Datasets/DatasetError.swift
    Sources/Datasets/ImageSet.swift Sources/CJPEG/sbcl_jpeg_decode.h
    Sources/Datasets/Readers/{PNGDecoder,JPEGDecoder,Gzip,Pickle,IDXReader,CIFARReader,SplitFile}.swift)
# The tensor file readers, without WeightsFile.swift (it maps checkpoints onto the engine's models).
tensor_sources=(Fuzz/TensorIOFuzz.swift $(ls Sources/Engine/IO/*.swift | grep -v '/WeightsFile\.swift$'))
# The header is a dependency for the rebuild check only, not a swiftc input.
build datasets-fuzz $(printf '%s\n' "${datasets_sources[@]}" | grep '\.swift$')
if [ -n "$(find Sources/CJPEG -newer "$out/datasets-fuzz" | head -1)" ]; then rm -f "$out/datasets-fuzz"; build datasets-fuzz $(printf '%s\n' "${datasets_sources[@]}" | grep '\.swift$'); fi
build tensor-io-fuzz "${tensor_sources[@]}"

seed() {  # seed TARGET FILES... : copies seed files into the corpus once
    local dir="$out/corpus/$1"; shift
    mkdir -p "$dir"
    for f in "$@"; do [ -f "$f" ] && cp -n "$f" "$dir/seed-$(basename "$f")" || true; done
}
fixtures=Tests/DatasetsTests/Fixtures
seed png $fixtures/images/*.png $fixtures/images/folder/train/*/*.png $fixtures/moco/files/*.png
seed jpeg $fixtures/images/*.jpg $fixtures/images/lt/train/*/*.JPEG
seed inflate $fixtures/cifar/*.tar.gz
seed split $fixtures/images/lt/*.txt
seed idx
seed cifar $fixtures/cifar/cifar-10-batches-py/batches.meta $fixtures/cifar/cifar-100-python/meta
seed npy Tests/EngineTests/Fixtures/io/*.npy
seed safetensors Tests/EngineTests/Fixtures/io/*.safetensors
printf '\0\0\x08\x03\0\0\0\x02\0\0\0\x02\0\0\0\x02abcdefgh' > "$out/corpus/idx/seed-small.idx"
printf '\xef\xbb\xbftrain/a.JPEG 0\r\ntrain/b c.png\t12\r\n\r\n' > "$out/corpus/split/seed-crlf.txt"
# A gzip stream and a zlib stream (PNG's form).
printf 'hello hello hello hello' | gzip -c > "$out/corpus/inflate/seed-text.gz"
python3 -c 'import zlib,sys; sys.stdout.buffer.write(zlib.compress(bytes(300)))' > "$out/corpus/inflate/seed-zlib" 2>/dev/null || true

status=0
for target in "${targets[@]}"; do
    case "$target" in
        npy|safetensors) binary="$out/tensor-io-fuzz" ;;
        png|jpeg|inflate|split|idx|cifar) binary="$out/datasets-fuzz" ;;
        *) echo "fuzz: unknown target $target (expected: ${all[*]})" >&2; exit 2 ;;
    esac
    log="$out/$target.log"
    # -rss_limit_mb: an input that makes one run allocate 2 GB is a finding (the readers' limits
    # are set far below that in the harness); -timeout: one input taking 10 s is a hang.
    if SBCL_FUZZ_TARGET="$target" ASAN_OPTIONS=detect_leaks=0 "$binary" "$out/corpus/$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$out/findings/$target-" > "$log" 2>&1; then
        result=ok
    else
        result="FINDING (see $log and $out/findings/)"
        status=1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
    corpus=$(ls "$out/corpus/$target" | wc -l)
    echo "fuzz $target: $runs executions in ${seconds} s, coverage $cov edges, corpus $corpus inputs: $result"
done
exit $status
