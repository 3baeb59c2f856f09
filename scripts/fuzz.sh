#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, with AddressSanitizer) of the data and tensor file readers:
# the PNG decoder, the JPEG decoder (through the libjpeg shim), inflate, the split-file parser,
# the IDX and CIFAR (pickle) readers, the .npy and safetensors readers, and the recipe loader
# (YAML and overrides to a plan).
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
all=(png jpeg inflate split idx cifar npy safetensors recipe)
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

# The recipe loader: Yams (its C parser and its Swift layer) and a stand-in for swift-crypto
# compiled as modules of their own with the same instrumentation, then PipelineDSL with the harness.
build_recipe() {
    local yams=.build/checkouts/Yams/Sources
    if [ ! -d "$yams/Yams" ]; then
        echo "fuzz: recipe: Yams' sources are not under .build/checkouts (run 'swift package resolve' once)" >&2; exit 2
    fi
    local binary="$out/recipe-fuzz" mods="$out/recipe-modules"
    local sources=(Fuzz/RecipeFuzz.swift Fuzz/CryptoStub.swift $(find Sources/PipelineDSL -name '*.swift'))
    if [ -x "$binary" ] && [ -z "$(find "${sources[@]}" -newer "$binary" 2>/dev/null | head -1)" ]; then return; fi
    echo "fuzz: building $binary" >&2
    mkdir -p "$mods"
    {
        for c in "$yams"/CYaml/src/*.c; do
            clang -O1 -g -fsanitize=fuzzer-no-link,address -I "$yams/CYaml/include" -c "$c" -o "$mods/$(basename "$c" .c).o" || return 1
        done
        swiftc -parse-as-library -O -g -sanitize=fuzzer,address -wmo -c -module-name Yams -D SWIFT_PACKAGE -I "$yams/CYaml/include" \
            -emit-module -emit-module-path "$mods/Yams.swiftmodule" "$yams"/Yams/*.swift -o "$mods/Yams.o" || return 1
        swiftc -parse-as-library -O -g -wmo -c -module-name Crypto -emit-module -emit-module-path "$mods/Crypto.swiftmodule" \
            Fuzz/CryptoStub.swift -o "$mods/Crypto.o" || return 1
        swiftc "${flags[@]}" -module-name PipelineDSL -I "$mods" -I "$yams/CYaml/include" Fuzz/RecipeFuzz.swift \
            $(find Sources/PipelineDSL -name '*.swift') "$mods"/*.o -o "$binary" || return 1
    } > "$out/recipe-fuzz.build.log" 2>&1 || { cat "$out/recipe-fuzz.build.log" >&2; exit 2; }
}
for target in "${targets[@]}"; do [ "$target" = recipe ] && build_recipe; done

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
seed recipe recipes/*.yaml Tests/PipelineDSLTests/Fixtures/*.yaml
printf 'name: t\nseed: 3\nstages:\n  a: {kind: test_source, value: 2}\n  b: {kind: test_source, value: 3}\n  s: {kind: test_sum, inputs: [a, b]}\n\0stages.a.value=5\n~stages.b\n' > "$out/corpus/recipe/seed-overrides"
printf 'name: c\nstages:\n  count: {kind: test_counter, steps: 4, step_seconds: 0}\n  f: {kind: test_fail, inputs: [count]}\n' > "$out/corpus/recipe/seed-counter.yaml"
# A gzip stream and a zlib stream (PNG's form).
printf 'hello hello hello hello' | gzip -c > "$out/corpus/inflate/seed-text.gz"
python3 -c 'import zlib,sys; sys.stdout.buffer.write(zlib.compress(bytes(300)))' > "$out/corpus/inflate/seed-zlib" 2>/dev/null || true

status=0
for target in "${targets[@]}"; do
    case "$target" in
        npy|safetensors) binary="$out/tensor-io-fuzz" ;;
        recipe) binary="$out/recipe-fuzz" ;;
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
