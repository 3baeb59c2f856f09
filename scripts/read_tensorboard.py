"""Reads sbcl-run's TensorBoard event files with TensorBoard's own reader and prints every scalar
series (tag, number of steps, first and last step and value), to show that `tensorboard --logdir
runs` understands them. Not used by the tests (CI never needs TensorBoard).

Usage: /work/venv/bin/pip install tensorboard
       /work/venv/bin/python scripts/read_tensorboard.py RUN_DIR [RUN_DIR ...]
"""
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main(folders):
    if not folders:
        sys.exit(__doc__)
    for folder in folders:
        accumulator = EventAccumulator(folder, size_guidance={"scalars": 0})
        accumulator.Reload()
        tags = accumulator.Tags()["scalars"]
        print(f"{folder}: {len(tags)} scalar tags")
        for tag in sorted(tags):
            events = accumulator.Scalars(tag)
            first, last = events[0], events[-1]
            print(f"  {tag:42s} {len(events):4d} steps  step {first.step}: {first.value:.6g}  …  step {last.step}: {last.value:.6g}")


if __name__ == "__main__":
    main(sys.argv[1:])
