"""Golden values for torchvision's ImageNet ResNets and the authors' MoCo v2 (moco/moco.py, mlp=True),
written to Tests/EngineTests/Fixtures/:

resnet_imagenet_names.json          - [name, shape, dtype] of torchvision resnet18/34/50 state_dict().
resnet50_golden.safetensors         - ResNet-50 on a 2x3x64x64 input: train-mode fc output and pooled
    features, loss = sum(out * R), grad.input and a few parameter gradients (grad.<name>, some cut to
    their first 36864 values), running stats after the pass (after.<name>), eval-mode outputs.
moco_golden.safetensors             - two MoCo steps (resnet18, K=16, batch 4, 3x32x32): logits,
    queue labels before each enqueue, the queue/labels/ptr after, some momentum-updated key
    weights, and the gradient of sum(logits1 * R1) for two query parameters.

No weights are stored: every entry of the state dicts is set from a closed formula that the Swift
tests compute too (`formula` below, ResNetImageNetGoldenTests.swift): a splitmix64 hash of
(tensor index in state_dict order, element index) mapped to u in [-1, 1), then conv weights
u*sqrt(6/fan_in), linear weights u/sqrt(fan_in), other weights 1 + u/4, biases u/10, running_mean
u/10, running_var 1 + u/4 (num_batches_tracked stays 0), evaluated in float64 and rounded to float32.
Inputs are formula(t, n) too. Forward and backward then run in float64 from those float32 values.

Usage: SBCL_REF=/work/ref/SBCL /work/venv/bin/python scripts/goldens/resnet_imagenet_golden.py
       ... resnet_imagenet_golden.py --float32-spread   writes nothing: PyTorch's own float32 ResNet-50 against
       the float64 golden, by the measures ResNetImageNetGoldenTests uses (what rounding alone gives).
"""
import json
import os
import sys

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torchvision
from safetensors.torch import save_file

REF = os.environ.get("SBCL_REF", "/work/ref/SBCL")
FIXTURES = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "EngineTests", "Fixtures"))
M64 = (1 << 64) - 1


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from closed_formula import formula, formula_value as value  # noqa: E402


def set_state(module, offset=0, parameters_only=False):
    """Every floating entry of module.state_dict() from the formula, t = offset + its index."""
    params = {n for n, _ in module.named_parameters()}
    with torch.no_grad():
        for t, (name, tensor) in enumerate(module.state_dict().items()):
            if tensor.dtype != torch.float32 or (parameters_only and name not in params):
                continue
            tensor.copy_(value(name, tuple(tensor.shape), offset + t))


def tensor_input(t, shape):
    return torch.from_numpy(formula(t, int(np.prod(shape))).reshape(shape)).float()


f32 = lambda t: t.detach().float().contiguous()

# (a) names and shapes.
names = {}
for arch in ["resnet18", "resnet34", "resnet50"]:
    sd = torchvision.models.__dict__[arch]().state_dict()
    names[arch] = [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in sd.items()]
with open(os.path.join(FIXTURES, "resnet_imagenet_names.json"), "w") as f:
    json.dump(names, f, indent=0)

# (b) ResNet-50 forward/backward/eval.
model = torchvision.models.resnet50()
set_state(model)
model = model.double().train()
x = tensor_input(20000, (2, 3, 64, 64)).double().requires_grad_()
R = tensor_input(10000, (2, 1000)).double()
feats = {}
model.avgpool.register_forward_hook(lambda m, i, o: feats.__setitem__("f", torch.flatten(o, 1)))
out = model(x)
loss = (out * R).sum()
loss.backward()
golden = {"out": f32(out), "features": f32(feats["f"]), "grad.input": f32(x.grad)}
cut = 36864
for name in ["conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer1.0.conv2.weight",
             "layer1.0.downsample.0.weight", "layer2.0.conv2.weight", "layer3.5.bn3.weight", "layer4.2.bn3.weight",
             "layer4.2.bn3.bias", "layer4.0.downsample.1.weight", "fc.bias"]:
    g = dict(model.named_parameters())[name].grad
    golden[f"grad.{name}"] = f32(g.flatten()[:cut])
for name in ["bn1.running_mean", "bn1.running_var", "layer2.1.bn2.running_var", "layer4.2.bn3.running_mean", "layer4.2.bn3.running_var"]:
    golden[f"after.{name}"] = f32(model.state_dict()[name])
golden["after.bn1.num_batches_tracked"] = model.state_dict()["bn1.num_batches_tracked"].clone()
model.eval()
feats.clear()
with torch.no_grad():
    golden["eval.out"] = f32(model(x.detach()))
    golden["eval.features"] = f32(feats["f"])
if "--float32-spread" in sys.argv:
    # The same pass in float32 (PyTorch's own rounding), measured as the Swift test measures ours:
    # max |a − golden| / max |golden| per array.
    m32 = torchvision.models.resnet50(); set_state(m32); m32.train()
    x32 = tensor_input(20000, (2, 3, 64, 64)).requires_grad_()
    f32feats = {}
    m32.avgpool.register_forward_hook(lambda m, i, o: f32feats.__setitem__("f", torch.flatten(o, 1)))
    o32 = m32(x32); (o32 * R.float()).sum().backward()
    ours = {"out": o32, "features": f32feats["f"], "grad.input": x32.grad}
    for key in golden:
        if key.startswith("grad.") and key != "grad.input":
            ours[key] = dict(m32.named_parameters())[key[5:]].grad.flatten()[:cut]
    rows = []
    for key, value in ours.items():
        ref = golden[key].double(); err = (value.detach().double() - ref).abs() / ref.abs().max()
        rows.append((key, err.max().item(), err.median().item()))
    for key, worst, median in rows: print(f"{key:40s} worst {worst:.2e} median {median:.2e}")
    sys.exit(0)
save_file(golden, os.path.join(FIXTURES, "resnet50_golden.safetensors"), metadata={"loss": repr(loss.item())})
print("resnet50 loss", loss.item(), "max|out|", out.abs().max().item(), "max|eval.out|", golden["eval.out"].abs().max().item())

# (c) MoCo: the authors' moco.py on the CPU with a one-process gloo group (as shared/anchors/torch_moco_step.py).
sys.path.insert(0, os.path.join(REF, "moco"))
torch.Tensor.cuda = lambda self, *a, **k: self
nn.Module.cuda = lambda self, *a, **k: self
os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
os.environ.setdefault("MASTER_PORT", "29541")
dist.init_process_group("gloo", rank=0, world_size=1)
import moco  # noqa: E402

torch.manual_seed(0)
K, B = 16, 4
m = moco.MoCo(torchvision.models.resnet18, 1000, 128, K, 0.999, 0.07, True)
set_state(m.encoder_q)
set_state(m.encoder_k, offset=500, parameters_only=True)
q0 = torch.from_numpy(formula(30000, 128 * K).reshape(128, K))
q0 = nn.functional.normalize(q0, dim=0).float()
with torch.no_grad():
    m.queue.copy_(q0)
m = m.double().train()
out = {"queue.initial": q0.contiguous()}
steps = [(40000, 40001, [3, 1, 4, 1], [0, 1, 0, 2]), (40002, 40003, [5, 9, 2, 6], [1, 1, 2, 0])]
for s, (tq, tk, sub, cls) in enumerate(steps, start=1):
    im_q = tensor_input(tq, (B, 3, 32, 32)).double()
    im_k = tensor_input(tk, (B, 3, 32, 32)).double()
    logits, ql, qt = m(im_q=im_q, im_k=im_k, labels=torch.tensor(sub), true_labels=torch.tensor(cls))
    out[f"step{s}.logits"] = f32(logits)
    out[f"step{s}.queue_l"] = ql.clone().contiguous()
    out[f"step{s}.queue_t"] = qt.clone().contiguous()
    if s == 1:
        Rl = tensor_input(50000, tuple(logits.shape)).double()
        (logits * Rl).sum().backward()
        for name in ["conv1.weight", "fc.2.bias", "fc.0.weight", "layer4.1.bn2.weight"]:
            out[f"step1.grad.encoder_q.{name}"] = f32(dict(m.encoder_q.named_parameters())[name].grad.flatten()[:cut])
sd = m.state_dict()
out["queue"] = f32(sd["queue"])
out["queue_l"] = sd["queue_l"].clone()
out["queue_t"] = sd["queue_t"].clone()
out["queue_ptr"] = sd["queue_ptr"].clone()
for name in ["encoder_k.conv1.weight", "encoder_k.fc.2.bias", "encoder_k.fc.0.bias", "encoder_k.layer4.1.bn2.weight",
             "encoder_k.bn1.running_mean", "encoder_k.bn1.running_var", "encoder_q.bn1.running_mean"]:
    out[f"after.{name}"] = f32(sd[name].flatten()[:cut])
save_file(out, os.path.join(FIXTURES, "moco_golden.safetensors"))
print("moco logits step2 row0", out["step2.logits"][0, :4].tolist(), "ptr", int(sd["queue_ptr"][0]))
