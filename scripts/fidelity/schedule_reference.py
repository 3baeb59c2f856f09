"""Learning rates of the SBCL reference's first stage (SimCLR/main.py: main_worker's warm-up set-up,
adjust_learning_rate per epoch, warmup_learning_rate per step), for LearningRateScheduleTests.

Writes Tests/EngineTests/Fixtures/schedule_golden.json: a list of cases {lr, epochs, batch,
steps_per_epoch, rates: [[epoch0, step, rate], ...]} where epoch0 is the reference's 0-based epoch
(ours is epoch0 + 1). Cases: the CIFAR setting (batch 1024 > 256: warm-up from 0.01 over 10 epochs,
1000 epochs) and the Fashion-MNIST one (batch 256: no warm-up, 15 epochs).

Usage: SBCL_REF=<checkout of JackHck/SBCL> /work/venv/bin/python scripts/fidelity/schedule_reference.py
"""
import json
import os
import sys
import types

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "goldens"))
import reference  # noqa: E402,F401

sys.argv = ["main.py"]
import main  # noqa: E402  (the authors' training script; only its schedule functions are used)

cases = []
for lr, epochs, batch, steps in [(0.5, 1000, 1024, 12), (0.5, 15, 256, 58)]:
    args = types.SimpleNamespace(lr=lr, epochs=epochs, batch_size=batch, lr_decay_rate=0.1, cosine=True)
    # main_worker's set-up of the warm-up
    args.warm = batch > 256
    if args.warm:
        args.warmup_from = 0.01
        args.warm_epochs = 10
        eta_min = args.lr * (args.lr_decay_rate ** 3)
        args.warmup_to = eta_min + (args.lr - eta_min) * (1 + main.math.cos(main.math.pi * args.warm_epochs / args.epochs)) / 2
    opt = types.SimpleNamespace(param_groups=[{"lr": 0.0}])
    rates = []
    for e in sorted({0, 1, 2, 5, 9, 10, 11, 12, epochs // 2, epochs - 2, epochs - 1}):
        main.adjust_learning_rate(args, opt, e)
        for idx in sorted({0, 1, steps // 2, steps - 1}):
            main.warmup_learning_rate(args, e, idx, steps, opt)
            rates.append([e, idx, opt.param_groups[0]["lr"]])
    cases.append({"lr": lr, "epochs": epochs, "batch": batch, "steps_per_epoch": steps, "rates": rates})
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "EngineTests", "Fixtures", "schedule_golden.json")
json.dump(cases, open(out, "w"), indent=1)
print(out, sum(len(c["rates"]) for c in cases), "rates")
