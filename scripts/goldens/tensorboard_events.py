"""Writes a TensorBoard event file with TensorBoard's own protobuf classes and TFRecord writer,
for the Reporting tests to compare our encoder and framing with byte for byte.

Events (wall times fixed so the bytes are reproducible):
  1. file_version "brain.Event:2", wall_time 1700000000.25
  2. step 3, wall_time 1700000001.5, scalars encoder/loss = 4.25, encoder/lr = 0.1
  3. step 300, wall_time 1700000002.0, scalar classifier/train_accuracy = 87.5

Usage: /work/venv/bin/pip install tensorboard; /work/venv/bin/python scripts/goldens/tensorboard_events.py
Output: Tests/ReportingTests/Fixtures/tensorboard_golden.tfevents (never needed by CI to run).
"""
import io
import os

from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "ReportingTests", "Fixtures")
os.makedirs(OUT, exist_ok=True)


def scalars(step, wall_time, values):
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=t, simple_value=v) for t, v in values])
    return event_pb2.Event(wall_time=wall_time, step=step, summary=summary)


buffer = io.BytesIO()
writer = RecordWriter(buffer)
writer.write(event_pb2.Event(wall_time=1700000000.25, file_version="brain.Event:2").SerializeToString())
writer.write(scalars(3, 1700000001.5, [("encoder/loss", 4.25), ("encoder/lr", 0.1)]).SerializeToString())
writer.write(scalars(300, 1700000002.0, [("classifier/train_accuracy", 87.5)]).SerializeToString())
with open(os.path.join(OUT, "tensorboard_golden.tfevents"), "wb") as f:
    f.write(buffer.getvalue())
print(len(buffer.getvalue()), "bytes")
