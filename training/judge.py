"""The ImageNet judge: does a standard ImageNet classifier call our output a zebra?

The classifier is MobileNetV2-1.0 int8 from the ONNX Model Zoo, read in place from
../shared/models/imagenet-mobilenetv2-int8/ (or $CYCLESTREAM_JUDGE). It is independent of our
training, and at 224 px it sees shapes, not just texture, which a small domain classifier at 64 px
does not (that one rated grey texture everywhere as "zebra").

Preprocessing is the model zoo's, as its SOURCE.md gives it: resize the short side to 256 (bilinear),
centre-crop 224, divide by 255, normalise with the ImageNet mean and std. It runs in ONNX Runtime
(Python's if installed, else onnxruntime-node through scripts/ort-run.mjs), since it is an int8
QOperator graph that torch cannot run.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict

import numpy as np
import torch
import torch.nn.functional as F

from training.data import REPO_ROOT

ZEBRA = 340
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


class JudgeNotFoundError(FileNotFoundError):
    """The classifier file is missing; the message names it."""


def judge_path() -> Path:
    env = os.environ.get('CYCLESTREAM_JUDGE')
    return Path(env) if env else REPO_ROOT.parent / 'shared' / 'models' / 'imagenet-mobilenetv2-int8' / 'mobilenetv2-12-int8.onnx'


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] in [-1, 1] -> [N, 3, 224, 224], the model zoo's normalisation."""
    x = (images.float().clamp(-1, 1) + 1) / 2
    h, w = x.shape[-2:]
    s = 256 / min(h, w)
    size = (max(224, round(h * s)), max(224, round(w * s)))
    if size != (h, w):
        x = F.interpolate(x, size=size, mode='bilinear', align_corners=False, antialias=s < 1)
    top, left = (size[0] - 224) // 2, (size[1] - 224) // 2
    x = x[:, :, top:top + 224, left:left + 224]
    return (x - MEAN) / STD


def zebra_probability(images: torch.Tensor, batch: int = 40, threads: int = 1) -> torch.Tensor:
    """[N, 3, H, W] in [-1, 1] -> [N, 2]: column 0 is P(zebra), column 1 is 1 where top-1 is zebra."""
    from training.export import run_onnx  # run_onnx needs node or onnxruntime; imported when judged

    path = judge_path()
    if not path.is_file():
        raise JudgeNotFoundError(f'ImageNet judge not found: {path} (set CYCLESTREAM_JUDGE, or put the shared folder beside the repo)')
    out = []
    for i in range(0, len(images), batch):
        x = preprocess(images[i:i + batch]).numpy().astype(np.float32)
        logits = torch.from_numpy(np.array(run_onnx(path, x, threads=threads)))
        p = logits.softmax(dim=1)
        out.append(torch.stack([p[:, ZEBRA], (p.argmax(dim=1) == ZEBRA).float()], dim=1))
    return torch.cat(out)


def summary(images: torch.Tensor, **kw) -> Dict[str, float]:
    """{'top1Zebra': share of images whose top-1 class is zebra, 'meanPZebra': their mean P(zebra)}."""
    r = zebra_probability(images, **kw)
    return {'top1Zebra': round(float(r[:, 1].mean()), 4), 'meanPZebra': round(float(r[:, 0].mean()), 4)}
