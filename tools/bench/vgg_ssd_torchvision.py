#!/usr/bin/python3
"""torchvision's ssd300_vgg16 timings for tools/bench/vgg-ssd.mjs (prints one JSON line).

Arguments: [reps] [threads] (threads: torch.set_num_threads; default torch's own).

Inference: backbone + head (no resize, no post-processing), batch 1, 300x300.
Training step: batch 2, backbone + head forward, a smooth-L1 + cross-entropy loss on
all anchors, backward, SGD step. Median of the timed repetitions after one warm-up.
"""
import json
import statistics
import sys

import torch
import torchvision
from torchvision.models.detection import ssd300_vgg16

from torch_timing import time_steps

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
if len(sys.argv) > 2:
    torch.set_num_threads(int(sys.argv[2]))
torch.manual_seed(0)
model = ssd300_vgg16(weights=None, weights_backbone=None, num_classes=21)


def forward(x):
    features = list(model.backbone(x).values())
    return model.head(features)


def timed(fn):
    return statistics.median(time_steps(fn, reps)[0])


model.eval()
x1 = torch.randn(1, 3, 300, 300) * 60
with torch.no_grad():
    inference = timed(lambda: forward(x1))

model.train()
optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
x2 = torch.randn(2, 3, 300, 300) * 60
loc_target = torch.randn(2, 8732, 4)
labels = torch.randint(0, 21, (2, 8732))


def step():
    out = forward(x2)
    loss = torch.nn.functional.smooth_l1_loss(out["bbox_regression"], loc_target) + torch.nn.functional.cross_entropy(
        out["cls_logits"].reshape(-1, 21), labels.reshape(-1)
    )
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


train = timed(step)
print(json.dumps({
    "torch": torch.__version__,
    "torchvision": torchvision.__version__,
    "threads": torch.get_num_threads(),
    "inference_ms": inference,
    "train_step_ms": train,
}))
