"""Reference outputs of the authors' augmentation path (torchvision on PIL images) for the Swift tests.

The reference (JackHck/SBCL, SimCLR/main.py; Fashion-MNIST as in shared/anchors/torch_fmnist_lt.py)
turns each uint8 image into a PIL image and applies RandomResizedCrop -> RandomHorizontalFlip ->
RandomApply([ColorJitter], p=0.8) -> RandomGrayscale(0.2) -> ToTensor -> Normalize. This script feeds
*given* parameters to torchvision.transforms.functional on PIL images and records the uint8 results,
so the Swift code can be checked op by op and chain by chain with the same parameters; and it records
torchvision's own random draws (crop boxes, jitter order and factors) for a distribution test.

Usage: /work/venv/bin/python scripts/fidelity/augment_reference.py [OUTDIR]
(default OUTDIR: Tests/DatasetsTests/Fixtures/augment). Writes ops.safetensors (images, outputs;
the cases as JSON in its metadata) and draws.safetensors. Deterministic: fixed seeds throughout.
"""
import gzip
import itertools
import json
import math
import os
import sys

import numpy as np
import PIL
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image
from safetensors.numpy import save_file

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "Tests", "DatasetsTests", "Fixtures", "augment")
FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
FMNIST_MEAN, FMNIST_STD = 0.2860, 0.3530


def f32(x):
    """A Python float that is exactly a float32 (torchvision's factors are float32 draws)."""
    return float(np.float32(x))


# ---------------------------------------------------------------- images (H x W x C uint8)
def fashion_images(indices):
    raw = np.frombuffer(gzip.open(FASHION).read(), np.uint8, offset=16).reshape(-1, 28, 28)
    return [raw[k].copy()[:, :, None] for k in indices]


def synthetic_images(rng):
    """Colourful RGB images that exercise every branch: hue ramps, saturated primaries, greys
    (r = g = b, the s = 0 path of HSV), extremes 0 and 255, noise, a low-contrast image, odd sizes."""
    def hue_ramp(h, w):
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        hue = (x / w + 0.3 * y / h) % 1.0
        sat = 0.35 + 0.65 * (y / max(1, h - 1))
        val = 0.25 + 0.75 * ((x + y) % 7) / 6
        i = np.floor(hue * 6) % 6
        f = hue * 6 - np.floor(hue * 6)
        p, q, t = val * (1 - sat), val * (1 - sat * f), val * (1 - sat * (1 - f))
        rgb = np.select([i[..., None] == k for k in range(6)],
                        [np.stack(c, -1) for c in [(val, t, p), (q, val, p), (p, val, t),
                                                   (p, q, val), (t, p, val), (val, p, q)]])
        return np.clip(np.round(rgb * 255 + rng.normal(0, 6, rgb.shape)), 0, 255).astype(np.uint8)

    def blocks(h, w):
        palette = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255],
                            [255, 0, 255], [0, 0, 0], [255, 255, 255], [128, 128, 128], [200, 30, 90],
                            [17, 17, 17], [250, 128, 3]], np.uint8)
        idx = rng.integers(0, len(palette), size=(h // 4 + 1, w // 4 + 1))
        return palette[np.kron(idx, np.ones((4, 4), np.int64))[:h, :w]]

    noise = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    low = rng.integers(100, 141, size=(32, 32, 3), dtype=np.uint8)
    large = [hue_ramp(32, 32), blocks(32, 32), noise, low, hue_ramp(29, 37), blocks(48, 64)]
    # 16 x 16 versions for the colour ops (pixelwise but for contrast's mean): smaller fixtures.
    small = [hue_ramp(16, 16), blocks(16, 16), rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8),
             rng.integers(100, 141, size=(16, 16, 3), dtype=np.uint8)]
    return large, small


def pil(a):
    return Image.fromarray(a[:, :, 0], "L") if a.shape[2] == 1 else Image.fromarray(a, "RGB")


def arr(im):
    a = np.asarray(im, dtype=np.uint8)
    return a[:, :, None] if a.ndim == 2 else a.copy()


# ---------------------------------------------------------------- applying given parameters
def apply_step(im, step):
    op = step["op"]
    if op == "resized_crop":
        return F.resized_crop(im, step["top"], step["left"], step["height"], step["width"],
                              [step["size"], step["size"]], T.InterpolationMode.BILINEAR, antialias=True)
    if op == "hflip":
        return F.hflip(im)
    if op == "brightness":
        return F.adjust_brightness(im, step["factor"])
    if op == "contrast":
        return F.adjust_contrast(im, step["factor"])
    if op == "saturation":
        return F.adjust_saturation(im, step["factor"])
    if op == "hue":
        return F.adjust_hue(im, step["factor"])
    if op == "grayscale":
        return F.rgb_to_grayscale(im, num_output_channels=len(im.getbands()))
    raise ValueError(op)


def jitter_steps(order, factors):
    """ColorJitter.forward: the four adjustments in `order`, skipping the ones without a factor."""
    names = ["brightness", "contrast", "saturation", "hue"]
    return [{"op": names[k], "factor": factors[k]} for k in order if factors[k] is not None]


def run_chain(image, steps):
    im = pil(image)
    normalize = None
    for step in steps:
        if step["op"] == "normalize":
            normalize = step
        else:
            im = apply_step(im, step)
    if normalize is None:
        return arr(im)
    return F.normalize(F.to_tensor(im), normalize["mean"], normalize["std"]).permute(1, 2, 0).contiguous().numpy()


# ---------------------------------------------------------------- the cases
def op_cases(images, rng):
    """(image index, steps) for every single op and for jitter orders. Images: 0-3 Fashion-MNIST,
    4-7 RGB 32 x 32, 8 RGB 29 x 37, 9 RGB 48 x 64, 10-13 RGB 16 x 16."""
    cases = []
    crop_images, colour_images = [0, 1, 2, 3, 4, 5, 8, 9], [0, 1, 10, 11, 12, 13]
    # Crops: edges, corners, tiny boxes, up- and downscaling, odd sizes.
    for i in crop_images:
        h, w, c = images[i].shape
        size = 28 if c == 1 else 32
        boxes = [(0, 0, h, w), (0, 0, h // 2, w // 3), (h - 9, w - 7, 9, 7), (h - 1, 0, 1, 1),
                 (0, w - 3, 2, 3), (h // 3, w // 4, 3, 2), (1, 2, h - 3, w - 5), (5, 4, 13, 17)]
        boxes.append((int(rng.integers(0, h - 12)), int(rng.integers(0, w - 12)), 12, 12))
        if h >= 40:  # downscale (a 64 x 48 source), and down in one axis while up in the other
            boxes += [(2, 3, 44, 40), (0, 10, 20, 54), (0, 0, 48, 64)]
        for (top, left, bh, bw) in boxes:
            cases.append((i, [{"op": "resized_crop", "top": top, "left": left, "height": bh, "width": bw, "size": size}]))
    for i in range(len(images)):
        cases.append((i, [{"op": "hflip"}]))
        cases.append((i, [{"op": "grayscale"}]))
    factors = [0.0, 0.6, f32(0.73519), f32(1.0001), f32(1.2345), 1.4, 2.0]
    for name in ["brightness", "contrast", "saturation"]:
        for i in colour_images:
            for factor in factors:
                cases.append((i, [{"op": name, "factor": factor}]))
    for i in colour_images[1:]:
        for factor in [-0.5, -0.1, f32(-0.0537), f32(-0.0039), 0.0, f32(0.0041), f32(0.0123), f32(0.07), 0.1, 0.5]:
            cases.append((i, [{"op": "hue", "factor": factor}]))
    # Jitter in random orders with random factors (ColorJitter(0.4, 0.4, 0.4, 0.1) ranges).
    for i in colour_images[2:]:
        for _ in range(6):
            order = [int(k) for k in rng.permutation(4)]
            factors4 = [f32(rng.uniform(0.6, 1.4)) for _ in range(3)] + [f32(rng.uniform(-0.1, 0.1))]
            cases.append((i, jitter_steps(order, factors4)))
    return cases


def drawn_chain(image, seed, fashion):
    """Draws a view's parameters with torchvision's own transforms under torch.manual_seed(seed),
    in torchvision's order, and checks that applying them through F equals the composed transform."""
    size = 28 if fashion else 32
    jitter = T.ColorJitter(0.4, 0.4) if fashion else T.ColorJitter(0.4, 0.4, 0.4, 0.1)
    composed = [T.RandomResizedCrop(size, scale=(0.2, 1.)), T.RandomHorizontalFlip(), T.RandomApply([jitter], p=0.8)]
    if not fashion:
        composed.append(T.RandomGrayscale(p=0.2))
    mean, std = ((FMNIST_MEAN,), (FMNIST_STD,)) if fashion else (CIFAR_MEAN, CIFAR_STD)
    reference = T.Compose(composed + [T.ToTensor(), T.Normalize(mean, std)])
    torch.manual_seed(seed)
    expected = reference(pil(image)).permute(1, 2, 0).contiguous().numpy()

    torch.manual_seed(seed)
    im = pil(image)
    top, left, h, w = T.RandomResizedCrop.get_params(im, scale=[0.2, 1.0], ratio=[3 / 4, 4 / 3])
    flip = bool(torch.rand(1) < 0.5)
    applied = not (0.8 < torch.rand(1))
    params = {"crop": [top, left, h, w], "flip": flip, "jitter": None, "grayscale": False}
    steps = [{"op": "resized_crop", "top": top, "left": left, "height": h, "width": w, "size": size}]
    if flip:
        steps.append({"op": "hflip"})
    if applied:
        order, b, c, s, hue = T.ColorJitter.get_params(jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue)
        factors = [b, c, s, hue]
        params["jitter"] = {"order": [int(k) for k in order], "factors": factors}
        steps += jitter_steps(order.tolist(), factors)
    if not fashion:
        params["grayscale"] = bool(torch.rand(1) < 0.2)
        if params["grayscale"]:
            steps.append({"op": "grayscale"})
    steps.append({"op": "normalize", "mean": list(mean), "std": list(std)})
    got = run_chain(image, steps)
    assert np.array_equal(got, expected), "torchvision's draw order is not the one assumed"
    return params, steps


def checksum(values):
    """sum_k value_k * (2654435761 k + 1) mod 2^64 over a flat uint8 array (the Swift test's
    checksum): any changed byte changes it."""
    k = np.arange(values.size, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return str(int(np.sum(values.reshape(-1).astype(np.uint64) * (k * np.uint64(2654435761) + np.uint64(1)),
                              dtype=np.uint64)))


def exhaustive_conversions():
    """Pillow's RGB -> HSV, HSV -> RGB and RGB -> L over all 2^24 inputs (pixel p = x << 16 | y << 8
    | z, a 4096 x 4096 image), as checksums: the hue and grey arithmetic checked everywhere."""
    p = np.arange(1 << 24, dtype=np.uint32)
    triples = np.stack([(p >> 16) & 255, (p >> 8) & 255, p & 255], -1).astype(np.uint8).reshape(4096, 4096, 3)
    rgb = Image.fromarray(triples, "RGB")
    to_hsv = np.asarray(rgb.convert("HSV"), dtype=np.uint8)
    hsv = Image.merge("HSV", [Image.fromarray(np.ascontiguousarray(triples[:, :, c]), "L") for c in range(3)])
    to_rgb = np.asarray(hsv.convert("RGB"), dtype=np.uint8)
    to_l = np.asarray(rgb.convert("L"), dtype=np.uint8)
    return {"rgb_to_hsv": checksum(to_hsv), "hsv_to_rgb": checksum(to_rgb), "rgb_to_l": checksum(to_l)}


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(15)
    large, small = synthetic_images(rng)
    images = fashion_images([0, 1, 17, 42]) + large + small
    tensors = {f"image_{i}": a for i, a in enumerate(images)}
    cases = []
    for i, steps in op_cases(images, rng):
        name = f"out_{len(cases):03d}"
        tensors[name] = run_chain(images[i], steps)
        cases.append({"image": i, "steps": steps, "output": name})
    chains = []
    for i, image in enumerate(images[:10]):
        fashion = image.shape[2] == 1
        for seed in range(8 if image.shape[:2] in [(28, 28), (32, 32)] else 3):
            params, steps = drawn_chain(image, 1000 * i + seed, fashion)
            name = f"chain_{len(chains):03d}"
            # The uint8 view before ToTensor for every chain; the normalised Float32 view for the
            # first chain of each image (the normalisation is checked there; it keeps the file small).
            tensors[name + "_u8"] = run_chain(image, steps[:-1])
            if seed == 0:
                tensors[name] = run_chain(image, steps)
            chains.append({"image": i, "fashion": fashion, "parameters": params,
                           "mean": steps[-1]["mean"], "std": steps[-1]["std"], "output": name})
    meta = {"cases": json.dumps(cases), "chains": json.dumps(chains),
            "exhaustive": json.dumps(exhaustive_conversions()),
            "versions": json.dumps({"torch": torch.__version__, "torchvision": torchvision.__version__,
                                    "pillow": PIL.__version__, "numpy": np.__version__})}
    save_file(tensors, os.path.join(OUT, "ops.safetensors"), metadata=meta)

    # torchvision's draws, for the distribution test.
    torch.manual_seed(2023)
    draws = {}
    for side in (28, 32):
        im = Image.new("L", (side, side))
        boxes = [T.RandomResizedCrop.get_params(im, scale=[0.2, 1.0], ratio=[3 / 4, 4 / 3]) for _ in range(20000)]
        # height, width of each box (contiguous: safetensors writes a strided view's base buffer)
        draws[f"crop_{side}"] = np.ascontiguousarray(np.array(boxes, np.uint8)[:, 2:])
    jitter = T.ColorJitter(0.4, 0.4, 0.4, 0.1)
    orders, factors = [], []
    for _ in range(20000):
        order, b, c, s, h = T.ColorJitter.get_params(jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue)
        orders.append(order.tolist())
        factors.append([b, c, s, h])
    # Each order as its rank among the 24 permutations in lexicographic order (0 = [0, 1, 2, 3]).
    perms = sorted(itertools.permutations(range(4)))
    draws["jitter_order"] = np.array([perms.index(tuple(o)) for o in orders], np.uint8)
    draws["jitter_factors"] = np.array(factors, np.float32)
    save_file(draws, os.path.join(OUT, "draws.safetensors"), metadata={"torch": torch.__version__})
    size = sum(os.path.getsize(os.path.join(OUT, f)) for f in ("ops.safetensors", "draws.safetensors"))
    print(f"{len(cases)} op cases, {len(chains)} chains, {size / 1e6:.2f} MB in {os.path.abspath(OUT)}")


if __name__ == "__main__":
    main()
