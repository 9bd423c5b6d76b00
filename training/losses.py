"""The generator's content terms beyond the paper's cycle and identity losses.

Both are opt-in (weight 0 = off) and apply to both generators, since a live filter runs either one:
- stability: a live camera's sensor noise changes every frame on a static scene; an output that follows
  that noise flickers. L1 between G(x) and G(x + noise) asks the generator to ignore it.
- edges: a style filter should repaint a scene, not redraw it. 1 - the Pearson correlation of the Sobel
  edge magnitudes of input and output (training/metrics.py edge_correlation, the number evaluate.py
  reports as "edges kept") asks every edge of the input to stay where it was, while leaving the
  colours and the texture between edges to the adversarial loss.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from training.metrics import edge_correlation


def stability_loss(out_clean: torch.Tensor, out_noisy: torch.Tensor) -> torch.Tensor:
    """Mean |G(x) - G(x + noise)| (both [N, 3, H, W]), computed in fp32."""
    return F.l1_loss(out_noisy.float(), out_clean.float())


def edge_loss(inputs: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of 1 - edge correlation between inputs and outputs ([N, 3, H, W] in [-1, 1])."""
    return (1.0 - edge_correlation(inputs.float(), outputs.float())).mean()
