#!/usr/bin/env python3
"""Tiny CIFAR fixtures in the official python layouts (DatasetsTests/CIFARReaderTests).

cifar-10-batches-py/ is written the way Python 2's cPickle wrote the real files (protocol 2,
byte strings as SHORT_BINSTRING/BINSTRING, numpy.core.multiarray._reconstruct); cifar-100-python/
with Python 3's pickle protocol 2 (bytes through _codecs.encode) and protocol 4 (the meta file).
cifar-10-python.tar.gz packs cifar-10-batches-py/ for the download test.
Pixels: image i of file f has value (7*i + 13*f + p) % 256 at CHW position p; labels (3*i + f) % C.
Run from this folder: python3 make_cifar_fixtures.py
"""
import hashlib
import io
import os
import pickle
import struct
import tarfile

import numpy as np


def py2_string(b):
    if len(b) < 256:
        return b"U" + bytes([len(b)]) + b
    return b"T" + struct.pack("<I", len(b)) + b


def py2_int(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])
    return b"J" + struct.pack("<i", v)


def py2_dict(entries):
    """entries: list of (key bytes, kind, value) with kind 'str', 'int list', 'str list', 'u1 array'."""
    out = [b"\x80\x02}q\x00("]
    for key, kind, value in entries:
        out.append(py2_string(key))
        if kind == "str":
            out.append(py2_string(value))
        elif kind == "int list":
            out.append(b"](" + b"".join(py2_int(v) for v in value) + b"e")
        elif kind == "str list":
            out.append(b"](" + b"".join(py2_string(v) for v in value) + b"e")
        elif kind == "u1 array":
            rows, cols = value.shape
            out.append(b"cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02K\x00\x85U\x01b\x87Rq\x03")
            out.append(b"(K\x01" + py2_int(rows) + py2_int(cols) + b"\x86cnumpy\ndtype\nq\x04U\x02u1K\x00K\x01\x87Rq\x05")
            out.append(b"(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89")
            out.append(py2_string(value.tobytes()) + b"tb")
    out.append(b"u.")
    return b"".join(out)


def images(n, f):
    p = np.arange(3072)
    return np.stack([(7 * i + 13 * f + p) % 256 for i in range(n)]).astype(np.uint8)


def main():
    os.makedirs("cifar-10-batches-py", exist_ok=True)
    names10 = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    files = ["data_batch_%d" % k for k in range(1, 6)] + ["test_batch"]
    for f, name in enumerate(files):
        n = 3
        labels = [(3 * i + f) % 10 for i in range(n)]
        blob = py2_dict([(b"batch_label", "str", name.encode()), (b"labels", "int list", labels),
                         (b"data", "u1 array", images(n, f)),
                         (b"filenames", "str list", [b"img%d.png" % i for i in range(n)])])
        assert pickle.loads(blob, encoding="latin1")["labels"] == labels
        with open(os.path.join("cifar-10-batches-py", name), "wb") as fh:
            fh.write(blob)
    meta = py2_dict([(b"num_cases_per_batch", "str", b"3"), (b"label_names", "str list", names10)])
    with open(os.path.join("cifar-10-batches-py", "batches.meta"), "wb") as fh:
        fh.write(meta)

    os.makedirs("cifar-100-python", exist_ok=True)
    for f, name in enumerate(["train", "test"]):
        n = 4
        d = {b"filenames": [b"x"] * n, b"fine_labels": [(3 * i + f) % 100 for i in range(n)],
             b"coarse_labels": [0] * n, b"data": images(n, f)}
        with open(os.path.join("cifar-100-python", name), "wb") as fh:
            pickle.dump(d, fh, protocol=2)
    with open(os.path.join("cifar-100-python", "meta"), "wb") as fh:
        pickle.dump({"fine_label_names": ["class%02d" % k for k in range(100)],
                     "coarse_label_names": ["super%d" % k for k in range(20)]}, fh, protocol=4)

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add("cifar-10-batches-py")
    with open("cifar-10-python.tar.gz", "wb") as fh:
        fh.write(buf.getvalue())
    print("cifar-10-python.tar.gz md5", hashlib.md5(buf.getvalue()).hexdigest())


if __name__ == "__main__":
    main()
