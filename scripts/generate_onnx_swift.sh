#!/bin/sh
# Regenerates Sources/ModelExport/Generated/onnx.pb.swift from ONNX's onnx.proto3 — once, on a
# development machine; the generated file is committed and CI never runs this.
#
# Needs protoc (Debian: apt-get install protobuf-compiler) and protoc-gen-swift of the
# swift-protobuf version in Package.swift (1.39.0):
#   git clone --branch 1.39.0 https://github.com/apple/swift-protobuf /tmp/swift-protobuf
#   (cd /tmp/swift-protobuf && swift build -c release --product protoc-gen-swift)
# and onnx/onnx.proto3 from https://github.com/onnx/onnx (ONNX_PROTO below).
set -eu
cd "$(dirname "$0")/.."
PLUGIN=${PROTOC_GEN_SWIFT:-/tmp/swift-protobuf/.build/release/protoc-gen-swift}
ONNX_PROTO=${ONNX_PROTO:-/tmp/onnx/onnx.proto3}
work=$(mktemp -d)
cp "$ONNX_PROTO" "$work/onnx.proto"
protoc --plugin=protoc-gen-swift="$PLUGIN" --swift_out="$work" --swift_opt=Visibility=Package -I "$work" "$work/onnx.proto"
mkdir -p Sources/ModelExport/Generated
mv "$work/onnx.pb.swift" Sources/ModelExport/Generated/onnx.pb.swift
rm -rf "$work"
echo "wrote Sources/ModelExport/Generated/onnx.pb.swift"
