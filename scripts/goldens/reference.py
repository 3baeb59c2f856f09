"""Imports the authors' SimCLR code (JackHck/SBCL, folder SimCLR/) so it runs on a CPU-only
machine: `.cuda()` on tensors and modules becomes a no-op and `torch.cuda.FloatTensor` becomes the
CPU float tensor type. Set SBCL_REF to the checkout (default /work/ref/SBCL)."""
import os
import sys

import torch
import torch.nn as nn

REF = os.environ.get("SBCL_REF", "/work/ref/SBCL")
sys.path.insert(0, os.path.join(REF, "SimCLR"))
torch.Tensor.cuda = lambda self, *a, **k: self
nn.Module.cuda = lambda self, *a, **k: self
torch.cuda.FloatTensor = torch.FloatTensor

import resnet  # noqa: E402  (the authors' model)
import loss  # noqa: E402  (the authors' losses)
import kmeans_gpu  # noqa: E402  (the authors' k-means)
import balanced_cluster  # noqa: E402  (the authors' balanced k-means)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "EngineTests", "Fixtures")


def fixture_path(name):
    return os.path.normpath(os.path.join(FIXTURES, name))
