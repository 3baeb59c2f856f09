"""Golden values for the CIFAR ResNet-32 SupConResNet of the authors (SimCLR/resnet.py), written to
Tests/EngineTests/Fixtures/:

resnet32_golden_weights.safetensors  - the state dict right after construction under
    torch.manual_seed(0), exact state-dict names (a checkpoint: loads into PyTorch with strict=True).
resnet32_golden_grads.safetensors    - grad.<parameter name> for every parameter the forward uses
    (encoder.linear, a 64->10 layer present in the state dict, is unused and has none).
resnet32_golden.safetensors          - input (4x3x32x32, NCHW), R (4x128), the train-mode outputs
    features (4x64, encoder) and projection (4x128, normalised head), loss = sum(projection * R),
    grad.input, grad.features, the BatchNorm running stats after the one train-mode forward under
    after.<name>, and eval-mode outputs eval.features / eval.projection (from the updated stats).

(Three files because weights and gradients are ~1.9 MB each and every fixture must stay < 2 MB.)
The train-mode forward is ONE pass: features = model.encoder(x), projection =
F.normalize(model.head(features), dim=1), exactly what model(x) computes, so the running stats are
updated once. Weights are made in float32 by the reference constructor; the forward/backward then
runs in float64 from those exact values (stored back as float32) so the figures carry no float32
rounding of PyTorch's own kernels.

Usage: /work/venv/bin/python scripts/goldens/resnet32_golden.py
"""
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from reference import resnet, fixture_path

torch.manual_seed(0)
model = resnet.SupConResNet(feat_dim=128)
x32 = torch.randn(4, 3, 32, 32)
R32 = torch.randn(4, 128)

before = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
save_file(before, fixture_path("resnet32_golden_weights.safetensors"), metadata={"format": "pt", "seed": "0"})

model = model.double()
model.train()
x = x32.double().requires_grad_()
R = R32.double()
features = model.encoder(x)
features.retain_grad()
projection = F.normalize(model.head(features), dim=1)
loss = (projection * R).sum()
loss.backward()

f32 = lambda t: t.detach().float().contiguous()
# encoder.linear (64 -> 10) is in the state dict but unused by SupConResNet.forward: no gradient.
unused = [n for n, p in model.named_parameters() if p.grad is None]
assert unused == ["encoder.linear.weight", "encoder.linear.bias"], unused
grads = {f"grad.{n}": f32(p.grad) for n, p in model.named_parameters() if p.grad is not None}
save_file(grads, fixture_path("resnet32_golden_grads.safetensors"))

out = {
    "input": x32.contiguous(),
    "R": R32.contiguous(),
    "features": f32(features),
    "projection": f32(projection),
    "loss": f32(loss.reshape(1)),
    "grad.input": f32(x.grad),
    "grad.features": f32(features.grad),
}
for name, value in model.state_dict().items():
    if "running_" in name or "num_batches_tracked" in name:
        out[f"after.{name}"] = value.detach().clone().contiguous() if value.dtype == torch.int64 else f32(value)

model.eval()
with torch.no_grad():
    ef = model.encoder(x.detach())
    out["eval.features"] = f32(ef)
    out["eval.projection"] = f32(model(x.detach()))
save_file(out, fixture_path("resnet32_golden.safetensors"), metadata={"loss": repr(loss.item())})

# Round trip check: the checkpoint loads back into the reference model strictly.
from safetensors.torch import load_file
check = resnet.SupConResNet(feat_dim=128)
check.load_state_dict(load_file(fixture_path("resnet32_golden_weights.safetensors")), strict=True)
print("loss", loss.item(), "params", sum(p.numel() for p in model.parameters()))
