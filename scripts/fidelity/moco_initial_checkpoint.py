"""The authors' initial MoCo network for `main.py --seed S`, saved as their checkpoint.

main.py seeds Python's and torch's generators (`random.seed(S); torch.manual_seed(S)`) and then builds
`moco.MoCo(models.resnet18, num_cluster, 128, K, 0.999, 0.07, mlp=True)` before anything else draws
from them; this does the same and saves the state as main.py's checkpoints hold it (DDP's `module.`
keys), so that ours can start from it (`stages.encoder.init_weights=OUT`) — the end-to-end harness's
"same start" comparison (docs/fidelity.md).

Run inside the harness's patched copy of moco/ (it imports `moco`):
    cd <cell work folder> && PYTHONPATH=<torchvision>:. python3 moco_initial_checkpoint.py S NUM_CLUSTER K OUT
NUM_CLUSTER is what main.py prints for the data (41 for the harness's Fashion-MNIST set at M = 20).
"""
import random
import sys

import torch
import torchvision.models as models

import moco

seed, num_cluster, queue, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
random.seed(seed)
torch.manual_seed(seed)
model = moco.MoCo(models.__dict__["resnet18"], num_cluster, 128, queue, 0.999, 0.07, True)
torch.save({"epoch": 0, "arch": "resnet18",
            "state_dict": {"module." + k: v for k, v in model.state_dict().items()}}, out)
