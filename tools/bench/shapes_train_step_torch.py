"""The PyTorch twin of the `shapes` network's training step (what `npm start` trains).

    /usr/bin/python3 tools/bench/shapes_train_step_torch.py --threads 2 --warmup 3 --steps 20

The same network as @ssd/vgg-ssd's createSsdVgg16 with the app's `shapes` recipe
(examples/train-voc/src/recipes.ts): VGG16-SSD at width x1/8 on 128x128 input, SSD300's
6 source maps (16, 8, 4, 2, 2, 2) with 4, 6, 6, 6, 4, 4 boxes per location (1560
anchors), 7 classes (6 shapes + background), the input scaled by 1/58 after the mean
is subtracted, L2Norm (scale 20) on conv4_3, fc6 dilated by 6; 543,714 parameters.
Loss as @ssd/loss's multiboxLoss: smooth L1 over positives + softmax cross-entropy over
positives and 3:1 hard-mined negatives per image, divided by the positives. Adam
(lr 2e-3, betas 0.9/0.999, eps 1e-8) with L2 weight decay 5e-4 on conv kernels only,
as the app's Adam. Batch 16, fixed seeded random inputs and targets (~10 positive
anchors per image). --batch-norm: BatchNorm2d after every backbone and extra conv (the
recipe's normalization: 'batch'), in training mode.

Prints one JSON line: {"torch", "threads", "parameters", "warmup", "ms": [per-step ms],
"cpu_ms": the process's CPU time over the timed steps}.
Called by tools/bench/shapes-train-step.mjs; needs Debian's python3-torch.
"""
import argparse
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_timing import time_steps

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--warmup", type=int, default=3)
parser.add_argument("--steps", type=int, default=20)
parser.add_argument("--batch", type=int, default=16)
parser.add_argument("--positives", type=int, default=10, help="positive anchors per image")
parser.add_argument(
    "--batch-norm",
    action="store_true",
    help="BatchNorm2d after every backbone and extra conv, no conv bias (--normalization batch)",
)
args = parser.parse_args()

torch.manual_seed(0)
torch.set_num_threads(args.threads)
torch.set_num_interop_threads(1)

SIZE = 128
NUM_CLASSES = 7
WIDTH = 0.125
MEAN_RGB = (123.0, 117.0, 104.0)
INPUT_SCALE = 1 / 58
ANCHORS_PER_LOCATION = (4, 6, 6, 6, 4, 4)


def width(channels):
    return max(1, round(channels * WIDTH))


class L2Norm(nn.Module):
    """ParseNet's channel L2 normalisation with a learned per-channel scale (init 20)."""

    def __init__(self, channels):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels,), 20.0))

    def forward(self, x):
        norm = x.pow(2).sum(1, keepdim=True).clamp_min(1e-24).sqrt()
        return x / norm * self.gamma.view(1, -1, 1, 1)


def conv_block(in_channels, out_channels, kernel, **kwargs):
    """A backbone or extra conv (the ReLU follows in forward); with --batch-norm, conv
    without bias then BatchNorm2d (eps 1e-5, momentum 0.1), as @ssd/vgg-ssd's
    normalization: 'batch'."""
    if not args.batch_norm:
        return nn.Conv2d(in_channels, out_channels, kernel, **kwargs)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, bias=False, **kwargs),
        nn.BatchNorm2d(out_channels),
    )


class ShapesSsd(nn.Module):
    def __init__(self):
        super().__init__()
        blocks = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]
        self.blocks = nn.ModuleList()
        channels = 3
        for block in blocks:
            layers = nn.ModuleList()
            for c in block:
                layers.append(conv_block(channels, width(c), 3, padding=1))
                channels = width(c)
            self.blocks.append(layers)
        self.norm = L2Norm(width(512))
        self.fc6 = conv_block(channels, width(1024), 3, padding=6, dilation=6)
        self.fc7 = conv_block(width(1024), width(1024), 1)
        # (reduce, out, stride, pad): conv10_2 and conv11_2 get pad 1 below 268 px, as ours.
        extras = [(256, 512, 2, 1), (128, 256, 2, 1), (128, 256, 1, 1), (128, 256, 1, 1)]
        self.extras = nn.ModuleList()
        channels = width(1024)
        sources = [width(512), width(1024)]
        for reduce, out, stride, pad in extras:
            self.extras.append(
                nn.ModuleList(
                    [
                        conv_block(channels, width(reduce), 1),
                        conv_block(width(reduce), width(out), 3, stride=stride, padding=pad),
                    ]
                )
            )
            channels = width(out)
            sources.append(channels)
        self.loc = nn.ModuleList(
            nn.Conv2d(c, a * 4, 3, padding=1) for c, a in zip(sources, ANCHORS_PER_LOCATION)
        )
        self.conf = nn.ModuleList(
            nn.Conv2d(c, a * NUM_CLASSES, 3, padding=1)
            for c, a in zip(sources, ANCHORS_PER_LOCATION)
        )
        self.register_buffer("mean", torch.tensor(MEAN_RGB).view(1, 3, 1, 1))

    def forward(self, images):
        x = (images - self.mean) * INPUT_SCALE
        sources = []
        for b, block in enumerate(self.blocks):
            for conv in block:
                x = F.relu(conv(x))
            if b == 3:
                sources.append(self.norm(x))
            if b < 4:
                x = F.max_pool2d(x, 2, 2, ceil_mode=(b == 2))
        x = F.max_pool2d(x, 3, 1, 1)
        x = F.relu(self.fc7(F.relu(self.fc6(x))))
        sources.append(x)
        for reduce, conv in self.extras:
            x = F.relu(conv(F.relu(reduce(x))))
            sources.append(x)
        batch = images.shape[0]
        # [B, A*4, H, W] -> [B, H, W, A*4] -> [B, H*W*A, 4]: the NHWC flattening of ours.
        loc = torch.cat(
            [l(s).permute(0, 2, 3, 1).reshape(batch, -1, 4) for l, s in zip(self.loc, sources)], 1
        )
        logits = torch.cat(
            [
                c(s).permute(0, 2, 3, 1).reshape(batch, -1, NUM_CLASSES)
                for c, s in zip(self.conf, sources)
            ],
            1,
        )
        return loc, logits


def multibox_loss(loc, logits, loc_targets, labels, negatives_per_positive=3):
    positive = labels > 0
    num_positives = positive.sum(1, keepdim=True)
    loc_sum = F.smooth_l1_loss(loc[positive], loc_targets[positive], reduction="sum", beta=1.0)
    ce = F.cross_entropy(
        logits.reshape(-1, NUM_CLASSES), labels.clamp_min(0).reshape(-1), reduction="none"
    ).view_as(labels)
    with torch.no_grad():
        negative = labels == 0
        ranked = ce.masked_fill(~negative, -float("inf"))
        order = ranked.argsort(1, descending=True)
        rank = order.argsort(1)
        k = torch.minimum(num_positives * negatives_per_positive, negative.sum(1, keepdim=True))
        weight = (positive | (rank < k)).float()
    conf_sum = (ce * weight).sum()
    return (loc_sum + conf_sum) / num_positives.sum().clamp_min(1)


model = ShapesSsd()
model.train()
parameters = sum(p.numel() for p in model.parameters())
decay = [p for p in model.parameters() if p.dim() == 4]
no_decay = [p for p in model.parameters() if p.dim() != 4]
optimizer = torch.optim.Adam(
    [{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}],
    lr=2e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
)

num_anchors = sum(s * s * a for s, a in zip((16, 8, 4, 2, 2, 2), ANCHORS_PER_LOCATION))
generator = torch.Generator().manual_seed(1)
images = torch.rand(args.batch, 3, SIZE, SIZE, generator=generator) * 255
loc_targets = torch.rand(args.batch, num_anchors, 4, generator=generator) - 0.5
labels = torch.zeros(args.batch, num_anchors, dtype=torch.long)
for b in range(args.batch):
    where = torch.randint(0, num_anchors, (args.positives,), generator=generator)
    labels[b, where] = torch.randint(1, NUM_CLASSES, (args.positives,), generator=generator)


def step():
    loc, logits = model(images)
    loss = multibox_loss(loc, logits, loc_targets, labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


times, cpu_ms = time_steps(step, args.steps, warmup=args.warmup)
print(
    json.dumps(
        {
            "torch": torch.__version__,
            "threads": args.threads,
            "parameters": parameters,
            "anchors": num_anchors,
            "warmup": args.warmup,
            "ms": times,
            "cpu_ms": cpu_ms,
        }
    )
)
