"""Writes the first TRAIN training and TEST test images (and labels) of Fashion-MNIST's four IDX
files, gzipped, into OUT with the same names, so that readers of the whole set read the head:
scripts/device/cuda_check.sh packs it for the GPU machine (recipes/smoke.yaml keeps the first 150
and 100 images of each class in file order, which the head holds).
Usage: python3 fashion_mnist_head.py SOURCE_DIR OUT_DIR TRAIN TEST"""
import gzip, os, struct, sys

source, out, counts = sys.argv[1], sys.argv[2], {"train": int(sys.argv[3]), "t10k": int(sys.argv[4])}
os.makedirs(out, exist_ok=True)
for split, count in counts.items():
    for kind, item in (("images-idx3", 28 * 28), ("labels-idx1", 1)):
        name = f"{split}-{kind}-ubyte.gz"
        data = gzip.open(os.path.join(source, name)).read()
        dims = data[3]
        header = bytearray(data[:4 + 4 * dims])
        total = struct.unpack(">I", header[4:8])[0]
        if count > total:
            sys.exit(f"{name}: {total} items, fewer than the {count} asked for")
        header[4:8] = struct.pack(">I", count)
        with gzip.open(os.path.join(out, name), "wb", compresslevel=9) as f:
            f.write(bytes(header) + data[4 + 4 * dims:4 + 4 * dims + count * item])
