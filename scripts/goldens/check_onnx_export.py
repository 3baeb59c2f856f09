#!/usr/bin/env python3
"""Development-side check of `sbcl-run export` (CI never runs it; it needs onnxruntime and torch).

    pip install onnxruntime onnx torch safetensors pillow numpy
    sbcl-run export RUN_DIR --onnx model.onnx --safetensors model.safetensors
    sbcl-run predict RUN_DIR IMAGES... --json --logits -o predictions.json
    python3 scripts/goldens/check_onnx_export.py model.onnx model.safetensors predictions.json

1. ONNX Runtime runs model.onnx on the images predict read (decoded with Pillow, converted to the
   model's channels, resized and centre-cropped as the metadata says, normalised) and compares its
   logits with predict's: the largest difference must be at most 1e-4 times the largest logit
   magnitude (at least 1) — 1e-4 absolute for logits of order 1; float32 rounding alone is about
   1e-7 of the magnitude, and a briefly trained linear layer on MoCo features gives logits in the
   thousands.
2. torch loads model.safetensors through safetensors.torch and the authors' model layout takes it
   by name (SimCLR/resnet.py's SupConResNet with NormedLinear or LinearClassifier, built here from
   their definitions' shapes; or torchvision's resnet with its fc as moco/linear_classify.py
   uses): load_state_dict(strict=True) must report nothing missing or unexpected, and the torch
   forward must give the same logits (≤ 1e-4).
Prints the figures that docs/using-a-trained-model.md quotes.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file


def load_inputs(paths, meta):
    mean = np.array([float(v) for v in meta["mean"].split(",")], dtype=np.float32)
    std = np.array([float(v) for v in meta["std"].split(",")], dtype=np.float32)
    size = int(meta["image_size"])
    # A CIFAR ResNet takes images at its size as they are; a torchvision one Resize(size·8/7) and
    # CenterCrop(size), which leave an image of side size·8/7 only cropped. So the check feeds
    # images of exactly those sides, where no resampling can differ between Pillow and sbcl.
    side = size if meta["architecture"].startswith("resnet_cifar") else size * 8 // 7
    offset = int(round((side - size) / 2))
    batch = []
    for path in paths:
        image = Image.open(path)
        image = image.convert("L" if len(mean) == 1 else "RGB")
        if image.size != (side, side):
            raise SystemExit(f"{path}: {image.size}; this check feeds images of side {side}")
        image = image.crop((offset, offset, offset + size, offset + size))
        x = np.asarray(image, dtype=np.float32) / 255.0
        x = x[:, :, None] if x.ndim == 2 else x
        batch.append(((x - mean) / std).transpose(2, 0, 1))
    return np.stack(batch).astype(np.float32)


# The authors' CIFAR ResNet (SimCLR/resnet.py), by its state-dict names: option-A shortcuts.
class LambdaLayer(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = LambdaLayer(lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4), "constant", 0))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetCIFAR(nn.Module):
    def __init__(self, blocks, in_channels, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        in_planes = 16
        for i, planes in enumerate([16, 32, 64]):
            layer = []
            for b in range(blocks):
                layer.append(BasicBlock(in_planes, planes, (1 if i == 0 else 2) if b == 0 else 1))
                in_planes = planes
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
        self.linear = nn.Linear(64, classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return F.avg_pool2d(out, out.size()[3]).view(out.size(0), -1)


class SupConResNet(nn.Module):
    def __init__(self, blocks, in_channels, feat_dim, classes):
        super().__init__()
        self.encoder = ResNetCIFAR(blocks, in_channels, classes)
        self.head = nn.Sequential(nn.Linear(64, 64), nn.ReLU(inplace=True), nn.Linear(64, feat_dim))


class NormedLinear(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.Tensor(in_features, out_features))

    def forward(self, x):
        return F.normalize(x, dim=1).mm(F.normalize(self.weight, dim=0))


class LinearClassifier(nn.Module):
    def __init__(self, features, classes):
        super().__init__()
        self.fc = nn.Linear(features, classes)

    def forward(self, x):
        return self.fc(x)


class TVBlock(nn.Module):
    """torchvision's BasicBlock or Bottleneck (v1.5: the stride on the 3×3), by their state names."""

    def __init__(self, in_planes, planes, stride, bottleneck):
        super().__init__()
        self.bottleneck = bottleneck
        out_planes = planes * (4 if bottleneck else 1)
        if bottleneck:
            self.conv1, self.bn1 = nn.Conv2d(in_planes, planes, 1, bias=False), nn.BatchNorm2d(planes)
            self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
            self.conv3, self.bn3 = nn.Conv2d(planes, out_planes, 1, bias=False), nn.BatchNorm2d(out_planes)
        else:
            self.conv1, self.bn1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
            self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False), nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or in_planes != out_planes:
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, out_planes, 1, stride, bias=False), nn.BatchNorm2d(out_planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        if self.bottleneck:
            out = self.bn3(self.conv3(F.relu(self.bn2(self.conv2(out)))))
        else:
            out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchvisionResNet(nn.Module):
    def __init__(self, blocks, bottleneck, classes):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        in_planes = 64
        for i, (count, planes) in enumerate(zip(blocks, [64, 128, 256, 512])):
            layer = []
            for b in range(count):
                layer.append(TVBlock(in_planes, planes, (1 if i == 0 else 2) if b == 0 else 1, bottleneck))
                in_planes = planes * (4 if bottleneck else 1)
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
        self.fc = nn.Linear(in_planes, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def torch_logits(state, x):
    if "encoder.conv1.weight" in state:
        blocks = len({k.split(".")[2] for k in state if k.startswith("encoder.layer1.")})
        feat_dim, in_channels = state["head.2.weight"].shape[0], state["encoder.conv1.weight"].shape[1]
        classes = state["encoder.linear.weight"].shape[0]
        model = SupConResNet(blocks, in_channels, feat_dim, classes)
        missing, unexpected = model.load_state_dict({k: v for k, v in state.items() if not k.startswith("classifier.")}, strict=True)
        head_state = {k[len("classifier."):]: v for k, v in state.items() if k.startswith("classifier.")}
        head = NormedLinear(*head_state["weight"].shape) if "weight" in head_state else LinearClassifier(
            head_state["fc.weight"].shape[1], head_state["fc.weight"].shape[0])
        head.load_state_dict(head_state, strict=True)
        model.eval()
        with torch.no_grad():
            return head(model.encoder(torch.from_numpy(x))).numpy(), f"SupConResNet (depth {6 * blocks + 2}) + {type(head).__name__}"
    blocks = [len({k.split(".")[1] for k in state if k.startswith(f"layer{i}.")}) for i in range(1, 5)]
    bottleneck = "layer1.0.conv3.weight" in state
    arch = "resnet50" if bottleneck else ("resnet34" if blocks[2] == 6 else "resnet18")
    classes = state["fc.weight"].shape[0]
    try:
        import torchvision  # the torchvision ResNet of moco/linear_classify.py
        model, source = getattr(torchvision.models, arch)(num_classes=classes), "torchvision"
    except ImportError:
        model, source = TorchvisionResNet(blocks, bottleneck, classes), "torchvision-layout (torchvision not installed)"
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy(), f"{source} {arch}"


def main():
    onnx_path, safetensors_path, predictions_path = sys.argv[1:4]
    proto = onnx.load(onnx_path)
    onnx.checker.check_model(proto)
    meta = {p.key: p.value for p in proto.metadata_props}
    predictions = json.load(open(predictions_path))["predictions"]
    paths = [p["path"] for p in predictions]
    ours = np.array([p["logits"] for p in predictions], dtype=np.float32)
    x = load_inputs(paths, meta)

    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"input": x})
    onnx_diff = float(np.abs(logits - ours).max())
    scale = max(1.0, float(np.abs(ours).max()))
    print(f"onnxruntime {ort.__version__}, opset {proto.opset_import[0].version}, {meta['architecture']}: {len(paths)} images, "
          f"max |logit| {scale:.3g}, max |logit difference| vs predict = {onnx_diff:.3g} ({onnx_diff / scale:.2g} of the largest), "
          f"argmax agreement {np.mean(logits.argmax(1) == ours.argmax(1)) * 100:.2f}%")
    assert onnx_diff <= 1e-4 * scale, onnx_diff

    state = load_file(safetensors_path)
    reference, layout = torch_logits(state, x)
    torch_diff = float(np.abs(reference - ours).max())
    print(f"torch {torch.__version__}: safetensors.torch.load_file + {layout} load_state_dict(strict=True) OK; "
          f"max |logit difference| vs predict = {torch_diff:.3g}")
    assert torch_diff <= 1e-4 * scale, torch_diff


if __name__ == "__main__":
    main()
