"""The generator's content terms beyond the paper's cycle and identity losses.

Both are opt-in (weight 0 = off) and apply to both generators, since a live filter runs either one:
- stability: a live camera's sensor noise changes every frame on a static scene; an output that follows
  that noise flickers. L1 between G(x) and G(x + noise) asks the generator to ignore it.
- edges: a style filter should repaint a scene, not redraw it. 1 - the Pearson correlation of the Sobel
  edge magnitudes of input and output (training/metrics.py edge_correlation, the number evaluate.py
  reports as "edges kept") asks every edge of the input to stay where it was, while leaving the
  colours and the texture between edges to the adversarial loss.
Distillation (training/distill.py) adds a feature term: the student's block outputs, through 1x1
adapters, matched to the teacher's at the same depth.
"""
from __future__ import annotations

from typing import List, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from training.metrics import edge_correlation


def stability_loss(out_clean: torch.Tensor, out_noisy: torch.Tensor) -> torch.Tensor:
    """Mean |G(x) - G(x + noise)| (both [N, 3, H, W]), computed in fp32."""
    return F.l1_loss(out_noisy.float(), out_clean.float())


def shift(x: torch.Tensor, dx: float, dy: float) -> torch.Tensor:
    """[N, C, H, W] moved by (dx, dy) pixels, sub-pixel by bilinear sampling; the border repeats."""
    n, _, h, w = x.shape
    theta = torch.tensor([[1.0, 0.0, -2.0 * dx / w], [0.0, 1.0, -2.0 * dy / h]], dtype=x.dtype, device=x.device)
    grid = F.affine_grid(theta.expand(n, 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode='bilinear', padding_mode='border', align_corners=False)


def shift_stability_loss(G, x: torch.Tensor, out: torch.Tensor, noise: torch.Tensor, max_shift_px: float,
                         gen: torch.Generator, margin_px: int = 4) -> torch.Tensor:
    """Mean |G(shift(x) + noise) - shift(G(x))| away from the border: a camera that moves by a fraction of
    a pixel, or whose sensor noise changes, should move the output with it and change nothing else.
    `out` is G(x) ([N, 3, H, W]), `noise` a tensor like x; shifts are uniform in [-max_shift_px, max_shift_px]."""
    dx, dy = ((2 * torch.rand(2, generator=gen) - 1) * max_shift_px).tolist()
    moved = G(shift(x, dx, dy) + noise) if max_shift_px else G(x + noise)
    want = shift(out, dx, dy) if max_shift_px else out
    m = margin_px
    return F.l1_loss(moved.float()[..., m:-m, m:-m], want.float()[..., m:-m, m:-m])


def edge_loss(inputs: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of 1 - edge correlation between inputs and outputs ([N, 3, H, W] in [-1, 1])."""
    return (1.0 - edge_correlation(inputs.float(), outputs.float())).mean()


class Adapters(nn.Module):
    """1x1 convs from the student's block width to the teacher's, one per feature tap."""

    def __init__(self, c_student: int, c_teacher: int, n: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(c_student, c_teacher, 1) for _ in range(n))

    def forward(self, feats: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        return [conv(f) for conv, f in zip(self.convs, feats)]


def feature_loss(student_feats: Sequence[torch.Tensor], teacher_feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean over taps of the MSE relative to the teacher feature's mean square, so that every tap
    counts alike whatever the size of the residual stream at that depth."""
    return sum(F.mse_loss(a.float(), b) / b.pow(2).mean().clamp_min(1e-6)
               for a, b in zip(student_feats, teacher_feats)) / len(teacher_feats)


def lsgan_d_loss(pred: torch.Tensor, n_real: int) -> torch.Tensor:
    """The discriminator's LSGAN loss on [real; fake] predictions (real -> 1, fake -> 0), halved as in the paper."""
    real, fake = pred[:n_real], pred[n_real:]
    return 0.5 * (F.mse_loss(real, torch.ones_like(real)) + F.mse_loss(fake, torch.zeros_like(fake)))
