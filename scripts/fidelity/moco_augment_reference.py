#!/usr/bin/env python3
"""Goldens for the ImageNet-LT (MoCo v2) data path: decoding and augmentations on arbitrary-size
RGB images, from Pillow and torchvision's PIL path (SBCL's moco/main.py aug_plus,
moco/utils.py GaussianBlur, moco/linear_classify.py transforms).

Usage: /work/venv/bin/python scripts/fidelity/moco_augment_reference.py [OUTDIR]
(default OUTDIR: Tests/DatasetsTests/Fixtures/moco). Writes
  files/*.jpg|png         small real images (Fashion-MNIST upscaled and colourised, a generated
                          photo) as Pillow writes them (quality 90 JPEG, gray, CMYK, progressive,
                          palette, LA) and as we write them by hand (16-bit, Adam7-interlaced PNG);
  moco_ops.safetensors    the source images, Pillow's decodes of every file (also at DCT scales
                          1/2, 1/4, 1/8 through Image.draft), and torchvision's outputs of each op
                          and whole views with fixed parameters (JSON cases in the metadata);
  moco_draws.safetensors  10,000 of torchvision's draws under torch.manual_seed(2024) / random.seed(2024):
                          RandomResizedCrop boxes of a 375 x 500 image at scale (0.2, 1) and
                          (0.08, 1), and the MoCo blur's RandomApply coin and sigma.
Deterministic: fixed seeds throughout. Figures only: nothing here is ported to Swift.
"""
import gzip
import io
import json
import os
import random
import struct
import sys
import zlib

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image, ImageFilter
from safetensors.numpy import save_file

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "Tests", "DatasetsTests", "Fixtures", "moco")
FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def images():
    """photo_a: two Fashion-MNIST items side by side, upscaled to 96 x 128 and colourised with a
    gradient map; photo_b: a generated 72 x 96 scene (gradients, discs, noise); tiny: 5 x 7 noise
    (blur radii beyond the image); patch: 40 x 54 of photo_b (the blur cases)."""
    raw = np.frombuffer(gzip.open(FASHION).read(), np.uint8, offset=16).reshape(-1, 28, 28)
    pair = np.concatenate([raw[0], raw[1]], axis=1)
    gray = np.asarray(Image.fromarray(pair).resize((128, 96), Image.BICUBIC), np.float64) / 255
    y, x = np.mgrid[0:96, 0:128] / np.array([96.0, 128.0])[:, None, None]
    low = np.stack([0.15 + 0.3 * x, 0.25 + 0.2 * y, 0.55 - 0.3 * x], -1)
    high = np.stack([0.95 - 0.2 * y, 0.75 + 0.2 * x, 0.35 + 0.1 * y], -1)
    photo_a = np.clip((low * (1 - gray[..., None]) + high * gray[..., None]) * 255, 0, 255).round().astype(np.uint8)
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:72, 0:96].astype(np.float64)
    b = np.stack([120 + 100 * np.sin(x / 17), 90 + 80 * np.cos(y / 11), 60 + 0.8 * x + 0.5 * y], -1)
    for cy, cx, r, col in [(24, 32, 14, (240, 40, 30)), (48, 72, 18, (20, 200, 90)), (60, 16, 10, (250, 250, 250))]:
        b[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = col
    photo_b = np.clip(b + rng.normal(0, 6, b.shape), 0, 255).round().astype(np.uint8)
    tiny = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    return {"photo_a": photo_a, "photo_b": photo_b, "tiny": tiny, "patch": photo_b[20:60, 30:84].copy()}


def png_by_hand(arr, color_type, depth, interlace):
    """A PNG of `arr` (H x W x samples, uint8 or uint16), filter 0, optionally Adam7."""
    h, w = arr.shape[:2]
    data = arr.astype(">u2") if depth == 16 else arr.astype(np.uint8)
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = data[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        for row in sub:
            raw += b"\x00" + row.tobytes()
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def write_files(imgs, tensors):
    """The decode fixtures, and Pillow's `open(...).convert('RGB')` of each."""
    folder = os.path.join(OUT, "files")
    os.makedirs(folder, exist_ok=True)
    a, b = Image.fromarray(imgs["photo_a"]), Image.fromarray(imgs["photo_b"])
    a.save(os.path.join(folder, "photo_a.jpg"), quality=90)
    a.save(os.path.join(folder, "photo_a_progressive.jpg"), quality=90, progressive=True)
    b.save(os.path.join(folder, "photo_b.jpg"), quality=90)
    b.convert("L").save(os.path.join(folder, "photo_b_gray.jpg"), quality=90)
    b.convert("CMYK").save(os.path.join(folder, "photo_b_cmyk.jpg"), quality=90)
    b.save(os.path.join(folder, "photo_b.png"))
    Image.fromarray(imgs["photo_b"][:, :, 0]).save(os.path.join(folder, "photo_b_gray.png"))
    b.convert("LA").save(os.path.join(folder, "photo_b_la.png"))
    b.quantize(64).save(os.path.join(folder, "photo_b_palette.png"))
    wide = imgs["patch"].astype(np.uint16) * 256 + np.arange(54, dtype=np.uint16)[None, :, None] * 4
    hand = {"patch_rgb16.png": png_by_hand(wide, 2, 16, False),
            "photo_b_rgb_interlaced.png": png_by_hand(imgs["photo_b"], 2, 8, True),
            "patch_rgba16_interlaced.png": png_by_hand(np.concatenate([wide, wide[..., :1]], -1), 6, 16, True),
            "tiny_interlaced.png": png_by_hand(imgs["tiny"], 2, 8, True)}
    for name, body in hand.items():
        open(os.path.join(folder, name), "wb").write(body)
    decodes = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            tensors[f"decoded_{name}"] = np.asarray(Image.open(f).convert("RGB"))
        decodes.append({"file": name, "output": f"decoded_{name}", "scale": 8})
        if name.endswith(".jpg"):
            for denominator in (2, 4, 8):
                im = Image.open(os.path.join(folder, name))
                full = im.size
                im.draft(im.mode, (-(-full[0] // denominator), -(-full[1] // denominator)))
                key = f"decoded_{name}_{denominator}"
                tensors[key] = np.asarray(im.convert("RGB"))
                decodes.append({"file": name, "output": key, "scale": 8 // denominator})
    # A truncated JPEG and a PNG cut in its image data, for the error tests.
    jpeg = open(os.path.join(folder, "photo_b.jpg"), "rb").read()
    open(os.path.join(folder, "truncated.jpg"), "wb").write(jpeg[: len(jpeg) // 2])
    return decodes


def op_cases(imgs, tensors):
    """Each op with fixed parameters on PIL images: GaussianBlur(sigma), Resize + CenterCrop,
    resized_crop to small outputs."""
    cases = []
    def add(image, steps, out):
        name = f"op_{len(cases)}"
        tensors[name] = np.asarray(out)
        cases.append({"image": image, "steps": steps, "output": name})
    rng = random.Random(11)
    sigmas = [0.1, 0.3, 0.5, 0.8, 1.0, 1.37, 2.0] + [rng.uniform(0.1, 2.0) for _ in range(5)]
    for image in ("patch", "tiny"):
        for sigma in sigmas:
            add(image, [{"op": "blur", "sigma": sigma}], Image.fromarray(imgs[image]).filter(ImageFilter.GaussianBlur(radius=sigma)))
    for image in ("photo_a", "photo_b"):
        for resize, crop in [(64, 56), (37, 32), (24, 20), (110, 64)]:
            im = F.center_crop(F.resize(Image.fromarray(imgs[image]), resize), crop)
            add(image, [{"op": "resize", "size": resize}, {"op": "center_crop", "size": crop}], im)
    for top, left, h, w, size in [(10, 20, 80, 100, 64), (0, 0, 96, 128, 32), (40, 60, 50, 52, 24), (5, 9, 33, 41, 48)]:
        im = F.resized_crop(Image.fromarray(imgs["photo_a"]), top, left, h, w, [size, size])
        add("photo_a", [{"op": "resized_crop", "top": top, "left": left, "height": h, "width": w, "size": size}], im)
    return cases


def moco_view(im, size, rng_seed, kind):
    """One view with torchvision's own draws (what Compose does, transform by transform), and
    the draws: MoCo v2 (crop 0.2-1, jitter p 0.8, grayscale 0.2, blur p 0.5, flip), linear
    training (crop 0.08-1, flip) or evaluation (Resize, CenterCrop)."""
    torch.manual_seed(rng_seed)
    random.seed(rng_seed)
    p = {}
    if kind == "eval":
        return F.center_crop(F.resize(im, size * 8 // 7), size), p
    scale = (0.2, 1.0) if kind == "moco" else (0.08, 1.0)
    i, j, h, w = T.RandomResizedCrop.get_params(im, scale=list(scale), ratio=[3 / 4, 4 / 3])
    p["crop"] = [i, j, h, w]
    im = F.resized_crop(im, i, j, h, w, [size, size])
    if kind == "moco":
        p["jitter"] = None
        if not 0.8 < torch.rand(1):
            order, b, c, s, hue = T.ColorJitter.get_params([0.6, 1.4], [0.6, 1.4], [0.6, 1.4], [-0.1, 0.1])
            p["jitter"] = {"order": order.tolist(), "factors": [b, c, s, hue]}
            for k in order.tolist():
                im = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue][k](im, [b, c, s, hue][k])
        p["grayscale"] = bool(torch.rand(1) < 0.2)
        if p["grayscale"]:
            im = F.rgb_to_grayscale(im, num_output_channels=3)
        p["sigma"] = None
        if not 0.5 < torch.rand(1):
            p["sigma"] = random.uniform(0.1, 2.0)
            im = im.filter(ImageFilter.GaussianBlur(radius=p["sigma"]))
    p["flip"] = bool(torch.rand(1) < 0.5)
    if p["flip"]:
        im = F.hflip(im)
    return im, p


def chains(imgs, tensors):
    out = []
    for k in range(24):
        image = ("photo_a", "photo_b")[k % 2]
        kind = "moco" if k < 16 else ("linear" if k < 22 else "eval")
        im, p = moco_view(Image.fromarray(imgs[image]), 32, 100 + k, kind)
        name = f"chain_{k}"
        tensors[name + "_u8"] = np.asarray(im)
        if k % 6 == 0:
            tensors[name] = F.normalize(F.to_tensor(im), MEAN, STD).permute(1, 2, 0).contiguous().numpy()
        out.append({"image": image, "kind": kind, "size": 32, "parameters": p, "output": name, "normalized": k % 6 == 0})
    return out


def draws():
    torch.manual_seed(2024)
    random.seed(2024)
    d = {}
    im = Image.new("RGB", (500, 375))
    for name, scale in [("crop_moco", [0.2, 1.0]), ("crop_linear", [0.08, 1.0])]:
        boxes = [T.RandomResizedCrop.get_params(im, scale=scale, ratio=[3 / 4, 4 / 3]) for _ in range(10000)]
        d[name] = np.ascontiguousarray(np.array(boxes, np.uint16)[:, 2:])
    sigmas = []
    for _ in range(10000):
        sigmas.append(-1.0 if 0.5 < torch.rand(1) else random.uniform(0.1, 2.0))
    d["blur_sigma"] = np.array(sigmas, np.float32)
    return d


def main():
    os.makedirs(OUT, exist_ok=True)
    imgs = images()
    tensors = {f"image_{k}": v for k, v in imgs.items()}
    decodes = write_files(imgs, tensors)
    cases = op_cases(imgs, tensors)
    views = chains(imgs, tensors)
    meta = {"decodes": json.dumps(decodes), "cases": json.dumps(cases), "chains": json.dumps(views),
            "versions": json.dumps({"torch": torch.__version__, "torchvision": torchvision.__version__,
                                    "pillow": Image.__version__ if hasattr(Image, "__version__") else "?"})}
    save_file(tensors, os.path.join(OUT, "moco_ops.safetensors"), metadata=meta)
    save_file(draws(), os.path.join(OUT, "moco_draws.safetensors"), metadata={"torch": torch.__version__})
    total = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(OUT) for f in files)
    print(f"{len(decodes)} decodes, {len(cases)} op cases, {len(views)} chains, {total / 1e6:.2f} MB in {os.path.abspath(OUT)}")


if __name__ == "__main__":
    main()
