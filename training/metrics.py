"""Content preservation and flicker: what a translation keeps of its input, and how stable it is in time;
and AtProcessingSize, what a live session at a smaller processing size shows."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

import torch
import torch.nn.functional as F

from training.data import to_float

# ----------------------------------------------------------------------------------------------
# what a live session at a given processing size shows


class AtProcessingSize:
    """Runs G with the input's short side scaled to `short_px` (sides rounded to multiples of 4), as the
    live path does with PROCESSING_SHORT_SIDE_PX, then scales the output back to the input's size, so
    every metric sees what a viewer of a live session at that setting sees."""

    def __init__(self, G, short_px: int):
        self.G, self.short_px = G, short_px

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        s = self.short_px / min(h, w)
        size = (max(4, round(h * s / 4) * 4), max(4, round(w * s / 4) * 4))
        small = F.interpolate(x, size=size, mode='bilinear', align_corners=False, antialias=True)
        return F.interpolate(self.G(small), size=(h, w), mode='bilinear', align_corners=False).clamp(-1, 1)


# ----------------------------------------------------------------------------------------------
# (c) content preservation


def grey(x: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] in [-1, 1] -> [N, 1, H, W] luma in [0, 1]."""
    x = (x.clamp(-1, 1) + 1) / 2
    return (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])


def ssim_grey(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5) of the greyscale images, per image [N]."""
    x, y = grey(a).double(), grey(b).double()
    t = torch.arange(11, dtype=torch.float64) - 5
    w1 = torch.exp(-t ** 2 / (2 * 1.5 ** 2))
    w1 = w1 / w1.sum()

    def blur(z):
        z = F.conv2d(z, w1.view(1, 1, 1, 11))
        return F.conv2d(z, w1.view(1, 1, 11, 1))

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (sxx + syy + c2))
    return s.mean(dim=(1, 2, 3)).float()


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] in [-1, 1] -> [N, 1, H-2, W-2] gradient magnitude of the greyscale image."""
    gx = torch.tensor([[-1., 0., 1.], [-2., 0., 2.], [-1., 0., 1.]], dtype=torch.float64).view(1, 1, 3, 3)
    z = grey(x).double()
    return torch.sqrt(F.conv2d(z, gx) ** 2 + F.conv2d(z, gx.transpose(2, 3)) ** 2 + 1e-12)


def edge_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of the Sobel edge magnitudes of a and b, per image [N]."""
    ea, eb = sobel_magnitude(a).flatten(1), sobel_magnitude(b).flatten(1)
    ea, eb = ea - ea.mean(1, keepdim=True), eb - eb.mean(1, keepdim=True)
    return ((ea * eb).sum(1) / (ea.norm(dim=1) * eb.norm(dim=1) + 1e-12)).float()


def cycle_l1(x: torch.Tensor, rec: torch.Tensor) -> float:
    """Mean |G_rev(G(x)) - x| in [-1, 1] units (the training loss's scale)."""
    return float((rec - x).abs().mean())


# ----------------------------------------------------------------------------------------------
# (d) flicker

STATIC_THRESHOLD = 0.02  # |in_t - in_t-1| below this (0..1 scale, mean over RGB) counts as static


def read_clip(path: Path, short_px: int = 256, max_frames: int = 48) -> torch.Tensor:
    """A video's first frames as float [T, 3, H, W] in [-1, 1], short side short_px, sides multiples of 4."""
    import cv2
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise OSError(f'cannot open video {path}')
    frames = []
    try:
        while len(frames) < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            h, w = bgr.shape[:2]
            s = short_px / min(h, w)
            nh, nw = max(4, round(h * s / 4) * 4), max(4, round(w * s / 4) * 4)
            rgb = cv2.cvtColor(cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
            frames.append(torch.from_numpy(rgb).permute(2, 0, 1))
    finally:
        cap.release()
    if len(frames) < 2:
        raise OSError(f'{path}: fewer than 2 frames could be decoded')
    return to_float(torch.stack(frames))


def flicker(inputs: torch.Tensor, outputs: torch.Tensor, threshold: float = STATIC_THRESHOLD) -> Dict[str, float]:
    """inputs/outputs [T, 3, H, W] in [-1, 1]. Mean |out_t - out_t-1| (0..1 scale) over the pixels
    whose input changed by less than `threshold`; the same for the input; and over all pixels."""
    din = ((inputs[1:] - inputs[:-1]).abs().mean(1) / 2)  # [T-1, H, W] on a 0..1 scale
    dout = ((outputs[1:] - outputs[:-1]).abs().mean(1) / 2)
    static = din < threshold
    n = int(static.sum())
    return {
        'outputChangeStatic': float(dout[static].mean()) if n else 0.0,
        'inputChangeStatic': float(din[static].mean()) if n else 0.0,
        'staticFraction': n / static.numel(),
        'outputChangeAll': float(dout.mean()),
        'inputChangeAll': float(din.mean()),
    }
