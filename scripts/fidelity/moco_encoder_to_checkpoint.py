"""Our MoCo encoder artifact as the authors' checkpoint, so that their moco/linear_classify.py
(`--pretrained`) trains its linear stage on OUR first stage (docs/fidelity.md, "One frozen encoder,
both linear stages"). Our `encoder.safetensors` (in the artifact cache: `sbcl-run cache`, the
encoder stage's object folder) already carries the authors' tensor names (encoder_q.*, encoder_k.*,
queue, queue_l, queue_t, queue_ptr); this writes {'epoch', 'arch', 'state_dict': {'module.' + name}},
the form moco/main.py saves under DistributedDataParallel.
Usage: python moco_encoder_to_checkpoint.py encoder.safetensors out.pth.tar [arch]"""
import sys
import torch
from safetensors.torch import load_file

tensors = load_file(sys.argv[1])
arch = sys.argv[3] if len(sys.argv) > 3 else "resnet18"
torch.save({"epoch": 0, "arch": arch, "state_dict": {"module." + k: v for k, v in tensors.items()}}, sys.argv[2])
print(f"{len(tensors)} tensors -> {sys.argv[2]}")
