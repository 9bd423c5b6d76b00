"""How distill.py scores its student during training: the ImageNet judge on the first test images.

Every `eval_every` steps the student translates the first `eval_images` test images of its input
domain; the judge (training/judge.py) scores them and the row goes to <out_dir>/curve.csv, so that a
run's quality can be plotted against its steps.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Dict, List, Optional

import torch
from torch import nn

from training.data import list_images, resolve_dataset, to_float
from training.distill_data import load_images


def eval_inputs(dataset: str, reverse: bool, count: int) -> torch.Tensor:
    """The first `count` test images of the student's input domain (testB in reverse mode), [N, 3, 256, 256]."""
    files = list_images(resolve_dataset(dataset) / ('testB' if reverse else 'testA'))[:count]
    return to_float(load_images(files))


@torch.no_grad()
def score(student: nn.Module, teacher_out: Optional[torch.Tensor], x: torch.Tensor, device: torch.device,
          px: int = 0) -> Dict[str, float]:
    """ImageNet zebra share and P (in reverse mode: still zebra, lower is better), L1 to the teacher, edges
    kept; with px, the student runs at that side and its output is scaled back, as on the live path."""
    from training.judge import summary
    from training.metrics import AtProcessingSize, edge_correlation

    student.eval()
    run = AtProcessingSize(student, px) if px else student
    y = torch.cat([run(x[i:i + 8].to(device)).float().cpu() for i in range(0, len(x), 8)])
    student.train()
    out = summary(y)
    if teacher_out is not None:
        out['l1Teacher'] = round(float((y - teacher_out).abs().mean()), 4)
    out['edgeCorrelation'] = round(float(edge_correlation(x, y).mean()), 4)
    return out


def write_curve(path: Path, curve: List[Dict[str, float]]) -> None:
    with path.open('w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=list(curve[0]))
        w.writeheader()
        w.writerows(curve)
