"""torch.optim.SGD step by step, for Tests/EngineTests/SGDTests.swift.

For each configuration (momentum, weight decay, dampening, nesterov) two parameters start from fixed
values and take 4 steps with fixed gradients (the second parameter has no gradient at step 2, which
torch skips entirely: no decay, no momentum update); the learning rate changes between steps as a
schedule would. Writes Tests/EngineTests/Fixtures/sgd_golden.json:
[{momentum, weight_decay, dampening, nesterov, lrs, initial: [[...], [...]], grads: [[[...]|null, ...] per step],
  after: [[[...], [...]] per step]}].
Usage: /work/venv/bin/python scripts/fidelity/sgd_reference.py
"""
import json
import os

import torch

torch.manual_seed(0)
cases = []
for momentum, wd, damp, nesterov in [(0.9, 1e-4, 0.0, False), (0.9, 0.0, 0.0, False), (0.0, 5e-4, 0.0, False),
                                     (0.9, 1e-4, 0.1, False), (0.9, 1e-4, 0.0, True)]:
    initial = [torch.randn(5), torch.randn(3)]
    params = [p.clone().requires_grad_() for p in initial]
    opt = torch.optim.SGD(params, lr=0.5, momentum=momentum, weight_decay=wd, dampening=damp, nesterov=nesterov)
    lrs, grads, after = [0.5, 0.4, 0.25, 0.1], [], []
    for step, lr in enumerate(lrs):
        for g in opt.param_groups:
            g["lr"] = lr
        step_grads = []
        for k, p in enumerate(params):
            if k == 1 and step == 2:
                p.grad = None
                step_grads.append(None)
            else:
                p.grad = torch.randn(p.shape)
                step_grads.append(p.grad.tolist())
        opt.step()
        grads.append(step_grads)
        after.append([p.detach().tolist() for p in params])
    cases.append({"momentum": momentum, "weight_decay": wd, "dampening": damp, "nesterov": nesterov, "lrs": lrs,
                  "initial": [p.tolist() for p in initial], "grads": grads, "after": after})
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "EngineTests", "Fixtures", "sgd_golden.json")
json.dump(cases, open(out, "w"), indent=1)
print(out, len(cases), "cases")
