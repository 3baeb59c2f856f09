"""Where the authors' MoCo v2 ResNet-50 + KCL step spends its GPU time (batch 32, 224 px, K 65,536,
PyTorch's defaults: TF32 convolutions), by torch.profiler over 3 steps after 3 warm-up steps, as one
JSON line: milliseconds per step by kind of kernel (convolution, GEMM, batch norm, element-wise and
reductions, copies, other), the kernel count per step, and the 12 costliest kernels. The same model
and step as ../shared/anchors/torch_gpu_steps.py `moco`; beside our own per-kernel profile of the
same step (`SBCL_CUDA_PROFILE=1 sbcl-bench step --moco`), it says where ours is slower.
Usage: SBCL_REF=<checkout of JackHck/SBCL> python torch_moco_profile.py"""
import collections, json, os, sys
import torch, torch.distributed as dist, torchvision
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.join(os.environ["SBCL_REF"], "moco"))
os.environ.setdefault("MASTER_ADDR", "127.0.0.1"); os.environ.setdefault("MASTER_PORT", "29543")
if not dist.is_initialized():
    dist.init_process_group("nccl", rank=0, world_size=1)
import moco, loss as L

dev, B, K, steps = torch.device("cuda"), 32, 65536, 3
torch.manual_seed(0)
model = moco.MoCo(torchvision.models.resnet50, 1000, 128, K, 0.999, 0.07, True).to(dev).train()
opt = torch.optim.SGD(model.parameters(), 0.1, momentum=0.9, weight_decay=1e-4)
crit = L.KCL(K=K, k=6, temperature=0.07)
x1, x2 = torch.randn(B, 3, 224, 224, device=dev), torch.randn(B, 3, 224, 224, device=dev)
y = torch.randint(0, 1000, (B,), device=dev); sub = torch.randint(0, 3000, (B,), device=dev)

def step():
    logits, _, qt = model(im_q=x1, im_k=x2, labels=sub, true_labels=y)
    l = crit(logits.float(), y, qt); opt.zero_grad(); l.backward(); opt.step()
    return float(l)

for _ in range(3):
    step()
torch.cuda.synchronize()
with profile(activities=[ProfilerActivity.CUDA]) as prof:
    for _ in range(steps):
        step()
    torch.cuda.synchronize()

def kind(name):
    n = name.lower()
    if any(s in n for s in ("conv", "cudnn", "implicit", "winograd", "dgrad", "wgrad", "fprop", "xmma", "sm90_")):
        return "convolution"
    if "gemm" in n or "cublas" in n or "cutlass" in n:
        return "gemm"
    if "batch_norm" in n or "bn_" in n or "batchnorm" in n:
        return "batch_norm"
    if "memcpy" in n or "memset" in n:
        return "copy"
    if "elementwise" in n or "reduce" in n or "vectorized" in n or "foreach" in n:
        return "elementwise_reduce"
    return "other"

by_kind, by_name, count = collections.Counter(), collections.Counter(), 0
for e in prof.events():
    if e.device_type == torch.autograd.DeviceType.CUDA:
        t = e.device_time_total if hasattr(e, "device_time_total") else e.cuda_time_total
        by_kind[kind(e.name)] += t; by_name[e.name[:90]] += t; count += 1
print(json.dumps({"workload": "profile_moco_resnet50_kcl", "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
                  "ms_per_step_by_kind": {k: round(v / 1e3 / steps, 3) for k, v in by_kind.most_common()},
                  "kernels_per_step": count // steps,
                  "top_kernels_ms_per_step": {k: round(v / 1e3 / steps, 3) for k, v in by_name.most_common(12)}}), flush=True)
