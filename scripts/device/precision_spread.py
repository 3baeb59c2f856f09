"""How far TF32 (and bf16 autocast) moves one ResNet-32 SBCL step from float32, ours beside PyTorch's
(the authors' SimCLR/resnet.py SupConResNet + SimCLR/loss.py SupConLoss_rank) on the same GPU:
the normwise relative change of all gradients, ‖g_fast − g_float32‖ / ‖g_float32‖, and of the loss.
Ours: two files written by `sbcl-bench step --dump-gradients` under SBCL_CUDA_PRECISION=float32 and
=tf32-convolutions (same weights and batch). PyTorch: one step of its model in float32 (TF32 off in
cuDNN and cuBLAS), with TF32 convolutions (its default) and under bf16 autocast, same weights and batch.
Different models and batches on the two sides, so compare the ratios, not the gradients.
Usage: SBCL_REF=<JackHck/SBCL> python precision_spread.py OURS_FLOAT32.safetensors OURS_TF32.safetensors [BATCH]
Prints one JSON line."""
import json, os, sys
import numpy as np

def ours(a, b):
    from safetensors.numpy import load_file
    from safetensors import safe_open
    x, y = load_file(a), load_file(b)
    num = sum(float(np.sum((y[k].astype(np.float64) - x[k]) ** 2)) for k in x)
    den = sum(float(np.sum(x[k].astype(np.float64) ** 2)) for k in x)
    loss = [float(safe_open(f, "np").metadata()["loss"]) for f in (a, b)]
    return {"gradients": (num / den) ** 0.5, "loss": abs(loss[1] - loss[0]) / abs(loss[0])}

def torch_side(batch):
    import torch
    sys.path.insert(0, os.path.join(os.environ["SBCL_REF"], "SimCLR"))
    import resnet, loss as L
    dev = torch.device("cuda")
    torch.manual_seed(0)
    model = resnet.SupConResNet(feat_dim=128).to(dev).train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    crit = L.SupConLoss_rank(num_class=100, ranking_temperature=np.full(100, 0.1))
    x = torch.randn(2 * batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 100, (batch,), device=dev); cl = torch.randint(0, 300, (batch,), device=dev)

    def step(tf32, bf16=False):
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cuda.matmul.allow_tf32 = False
        model.load_state_dict(state); model.zero_grad()
        with torch.autocast("cuda", torch.bfloat16, enabled=bf16):
            z = model(x)
        f1, f2 = torch.split(z.float(), [batch, batch], dim=0)
        l = crit(torch.cat([f1.unsqueeze(1), f2.unsqueeze(1)], dim=1), y, cl)
        l.backward()
        return float(l), [p.grad.detach().double().clone() for p in model.parameters() if p.grad is not None]

    base_loss, base = step(False)
    out = {}
    for name, tf32, bf16 in (("tf32_convolutions", True, False), ("bf16_autocast", True, True)):
        value, grads = step(tf32, bf16)
        num = sum(float(((g - h) ** 2).sum()) for g, h in zip(grads, base))
        den = sum(float((h ** 2).sum()) for h in base)
        out[name] = {"gradients": (num / den) ** 0.5, "loss": abs(value - base_loss) / abs(base_loss)}
    torch.backends.cudnn.allow_tf32 = True
    return out

result = {"ours_tf32_convolutions": ours(sys.argv[1], sys.argv[2])}
result["torch"] = torch_side(int(sys.argv[3]) if len(sys.argv) > 3 else 256)
print(json.dumps(result))
