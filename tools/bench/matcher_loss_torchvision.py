#!/usr/bin/python3
"""torchvision's side of tools/bench/matcher-loss.mjs (spawned by it; prints JSON).

Per image: box_iou + SSDMatcher(0.5) + BoxCoder(10, 10, 5, 5).encode_single of the
positives + the label gather — what torchvision does per image to build targets.
Loss: SSD.compute_loss forward + backward at batch 8, 8732 anchors, 21 classes.
One thread (torch.set_num_threads(1)), as tfjs's cpu backend is single-threaded.
"""
import json
import sys
import time
import types

import numpy as np
import torch
from torchvision.models.detection._utils import BoxCoder, SSDMatcher
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.models.detection.ssd import SSD
from torchvision.ops import box_iou

torch.set_num_threads(1)
repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 50
generator = DefaultBoxGenerator(
    aspect_ratios=[[2], [2, 3], [2, 3], [2, 3], [2], [2]],
    scales=[0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05],
    steps=[8, 16, 32, 64, 100, 300],
    clip=True,
)
cxcywh = generator._grid_default_boxes([[s, s] for s in (38, 19, 10, 5, 3, 1)], [300, 300], dtype=torch.float32)
anchors = torch.cat([cxcywh[:, :2] - 0.5 * cxcywh[:, 2:], cxcywh[:, :2] + 0.5 * cxcywh[:, 2:]], -1)
matcher = SSDMatcher(0.5)
coder = BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
rng = np.random.default_rng(0)


def boxes(count):
    w = rng.uniform(0.02, 0.8, count)
    h = rng.uniform(0.02, 0.8, count)
    x = rng.uniform(0, 1, count) * (1 - w)
    y = rng.uniform(0, 1, count) * (1 - h)
    return torch.from_numpy(np.stack([x, y, x + w, y + h], 1).astype(np.float32))


def encode(gt, labels):
    matches = matcher(box_iou(gt, anchors))
    fg = torch.where(matches >= 0)[0]
    targets = torch.zeros_like(anchors)
    targets[fg] = coder.encode_single(gt[matches[fg]], anchors[fg])
    cls = torch.zeros(anchors.shape[0], dtype=torch.int64)
    cls[fg] = labels[matches[fg]]
    return targets, cls, matches


result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "encodeMs": {}}
for count in (1, 10, 50):
    images = [(boxes(count), torch.from_numpy(rng.integers(1, 21, count))) for _ in range(repeats)]
    encode(*images[0])
    start = time.perf_counter()
    for gt, labels in images:
        encode(gt, labels)
    result["encodeMs"][str(count)] = (time.perf_counter() - start) * 1000 / repeats

batch, classes = 8, 21
targets, matched = [], []
for _ in range(batch):
    gt, labels = boxes(10), torch.from_numpy(rng.integers(1, 21, 10))
    targets.append({"boxes": gt, "labels": labels})
    matched.append(encode(gt, labels)[2])
loc = torch.randn(batch, anchors.shape[0], 4, requires_grad=True)
logits = torch.randn(batch, anchors.shape[0], classes, requires_grad=True)
minimal = types.SimpleNamespace(box_coder=coder, neg_to_pos_ratio=3)


def step():
    losses = SSD.compute_loss(
        minimal, targets, {"bbox_regression": loc, "cls_logits": logits}, [anchors] * batch, matched
    )
    (losses["bbox_regression"] + losses["classification"]).backward()
    loc.grad = None
    logits.grad = None


step()
runs = 10
start = time.perf_counter()
for _ in range(runs):
    step()
result["lossMs"] = (time.perf_counter() - start) * 1000 / runs
print(json.dumps(result))
