"""One torchvision ssd300_vgg16 training step (batch 2, 300x300, 21 classes) on the CPU.

    /usr/bin/python3 tools/bench/torch-train-step.py --threads 2 --steps 3

Prints one JSON line: {"torch": ..., "torchvision": ..., "threads": n, "ms": [per-step ms]}.
Called by tools/bench/backend-train-step.mjs; needs Debian's python3-torchvision.
"""
import argparse
import json

import torch
import torchvision
from torchvision.models.detection import ssd300_vgg16

from torch_timing import time_steps

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--batch", type=int, default=2)
args = parser.parse_args()

torch.manual_seed(0)
torch.set_num_threads(args.threads)
model = ssd300_vgg16(weights=None, weights_backbone=None, num_classes=21)
model.train()
optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
images = [torch.rand(3, 300, 300) for _ in range(args.batch)]
targets = [
    {
        "boxes": torch.tensor([[30.0, 40.0, 150.0, 200.0], [160.0, 60.0, 280.0, 250.0]]),
        "labels": torch.tensor([3, 7]),
    }
    for _ in range(args.batch)
]


def step():
    losses = model(images, targets)
    loss = sum(losses.values())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


times, _ = time_steps(step, args.steps)
print(
    json.dumps(
        {
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "threads": args.threads,
            "ms": times,
        }
    )
)
