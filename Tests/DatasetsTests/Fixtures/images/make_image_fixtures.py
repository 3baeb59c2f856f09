#!/usr/bin/env python3
"""Small JPEG/PNG fixtures and their decoded pixels (DatasetsTests/ImageDecodingTests).

Needs Pillow (pip install pillow). Writes, in this folder:
  folder/train/<class>/*.{jpg,png} and folder/test/<class>/*  (an image_folder layout)
  lt/ImageNet_LT_train.txt, lt/ImageNet_LT_test.txt, lt/train/*.JPEG  (an imagenet_lt layout)
  *.npy: the pixels Pillow decodes, H×W×C uint8, to compare against.
Run from this folder: python3 make_image_fixtures.py
"""
import os

import numpy as np
from PIL import Image


def pattern(h, w, c, seed):
    y, x = np.mgrid[0:h, 0:w]
    planes = [((x * 23 + y * 11 + k * 70 + seed * 31) % 256) for k in range(c)]
    return np.stack(planes, axis=-1).astype(np.uint8)


def save(img, path, **kw):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    img.save(path, **kw)


def main():
    rgb = pattern(6, 9, 3, 1)
    save(Image.fromarray(rgb), "rgb.png")
    save(Image.fromarray(pattern(5, 4, 1, 2)[:, :, 0], "L"), "gray.png")
    rgba = np.concatenate([pattern(4, 5, 3, 3), np.full((4, 5, 1), 128, np.uint8)], axis=-1)
    save(Image.fromarray(rgba, "RGBA"), "rgba.png")
    save(Image.fromarray(pattern(4, 4, 3, 4)).convert("P", palette=Image.ADAPTIVE, colors=16), "palette.png")
    np.save("palette.npy", np.asarray(Image.open("palette.png").convert("RGB")))
    smooth = np.stack(np.mgrid[0:16, 0:24], axis=-1)
    smooth = np.concatenate([smooth * 8, np.full((16, 24, 1), 90)], axis=-1).astype(np.uint8)
    save(Image.fromarray(smooth), "rgb.jpg", quality=95)
    np.save("rgb_jpg.npy", np.asarray(Image.open("rgb.jpg").convert("RGB")))
    save(Image.fromarray(smooth[:, :, 0], "L"), "gray.jpg", quality=95)
    np.save("gray_jpg.npy", np.asarray(Image.open("gray.jpg").convert("L")))
    with open("rgb.jpg", "rb") as f:
        data = f.read()
    with open("truncated.jpg", "wb") as f:
        f.write(data[: len(data) // 2])
    with open("not_an_image.jpg", "wb") as f:
        f.write(b"this is text, not a JPEG\n")

    for split, n in [("train", 3), ("test", 1)]:
        for c, name in enumerate(["cat", "dog"]):
            for i in range(n):
                img = Image.fromarray(pattern(8, 8, 3, 10 * c + i))
                if i % 2:
                    save(img, "folder/%s/%s/%d.png" % (split, name, i))
                else:
                    save(img, "folder/%s/%s/%d.jpg" % (split, name, i), quality=90)
    lines = []
    for i in range(4):
        save(Image.fromarray(pattern(10 + i, 12, 3, i)), "lt/train/n%02d/img%d.JPEG" % (i % 2, i), quality=90)
        lines.append("train/n%02d/img%d.JPEG %d" % (i % 2, i, i % 2))
    with open("lt/ImageNet_LT_train.txt", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open("lt/ImageNet_LT_test.txt", "w") as f:
        f.write("train/n00/img0.JPEG 0\n")


if __name__ == "__main__":
    main()
