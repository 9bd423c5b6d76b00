"""Generators and discriminators, a plain registry of them, and a MAC counter.

Shapes are written for a batch of N images of H x W (H, W multiples of 4).

- ResnetGenerator: the CycleGAN paper's generator (ngf 64 and 9 blocks = 'resnet9', 11.4 M params,
  56.8 G MACs at 256x256). Far too slow for realtime on our CPUs; kept as the reference.
- FastGenerator: the same encoder / residual-blocks / decoder plan, built for ONNX Runtime on a
  CPU: depthwise-separable convolutions, nearest-neighbour upsampling instead of ConvTranspose
  (ConvTranspose cost 17-32% of the time in stack-notes' profile), zero padding inside the
  network (reflect padding only at the image border) and no conv bias in front of InstanceNorm.
  The default ngf 32 / 9 blocks is ~1.9 G MACs at 256x256.
- PatchDiscriminator: the paper's PatchGAN (ndf 64, 3 layers = 70x70 receptive field).
"""
from __future__ import annotations

from typing import Callable, Dict

import torch
from torch import nn


def _norm(c: int) -> nn.Module:
    # affine-free, per-image statistics: the paper's choice for style translation
    return nn.InstanceNorm2d(c, affine=False, track_running_stats=False)


# ----------------------------------------------------------------------------------------------
# The paper's ResNet generator


class ResnetBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), _norm(c), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), _norm(c),
        )

    def forward(self, x):  # [N, C, h, w] -> [N, C, h, w]
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    def __init__(self, ngf: int = 64, n_blocks: int = 9):
        super().__init__()
        c1, c2, c4 = ngf, 2 * ngf, 4 * ngf
        # conv biases kept (unlike FastGenerator) so that resnet9 matches the paper's 11,378,179 params
        self.net = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(3, c1, 7), _norm(c1), nn.ReLU(True),  # [N, c1, H, W]
            nn.Conv2d(c1, c2, 3, 2, 1), _norm(c2), nn.ReLU(True),  # [N, c2, H/2, W/2]
            nn.Conv2d(c2, c4, 3, 2, 1), _norm(c4), nn.ReLU(True),  # [N, c4, H/4, W/4]
            *[ResnetBlock(c4) for _ in range(n_blocks)],  # [N, c4, H/4, W/4]
            nn.ConvTranspose2d(c4, c2, 3, 2, 1, output_padding=1), _norm(c2), nn.ReLU(True),  # [N, c2, H/2, W/2]
            nn.ConvTranspose2d(c2, c1, 3, 2, 1, output_padding=1), _norm(c1), nn.ReLU(True),  # [N, c1, H, W]
            nn.ReflectionPad2d(3), nn.Conv2d(c1, 3, 7), nn.Tanh(),  # [N, 3, H, W] in [-1, 1]
        )

    def forward(self, x):  # [N, 3, H, W] in [-1, 1] -> [N, 3, H, W] in [-1, 1]
        return self.net(x)


# ----------------------------------------------------------------------------------------------
# The fast generator


def _dw(c: int, k: int = 3, stride: int = 1) -> nn.Conv2d:
    """Depthwise k x k conv with zero padding (no separate Pad node in ONNX)."""
    return nn.Conv2d(c, c, k, stride, k // 2, groups=c, bias=False)


def _pw(cin: int, cout: int, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, bias=bias)


class FastBlock(nn.Module):
    """Residual block of two depthwise-separable 3x3 convs (MACs per pixel: 2 * (9c + c^2))."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(
            _dw(c), _pw(c, c), _norm(c), nn.ReLU(True),
            _dw(c), _pw(c, c), _norm(c),
        )

    def forward(self, x):  # [N, C, h, w] -> [N, C, h, w]
        return x + self.body(x)


class FastGenerator(nn.Module):
    def __init__(self, ngf: int = 32, n_blocks: int = 9):
        super().__init__()
        c1, c2, c4 = ngf, 2 * ngf, 4 * ngf
        self.net = nn.Sequential(
            # full 7x7 conv on the 3 input channels: a depthwise one would see each colour alone
            nn.ReflectionPad2d(3), nn.Conv2d(3, c1, 7, bias=False), _norm(c1), nn.ReLU(True),  # [N, c1, H, W]
            _dw(c1, 3, 2), _pw(c1, c2), _norm(c2), nn.ReLU(True),  # [N, c2, H/2, W/2]
            _dw(c2, 3, 2), _pw(c2, c4), _norm(c4), nn.ReLU(True),  # [N, c4, H/4, W/4]
            *[FastBlock(c4) for _ in range(n_blocks)],  # [N, c4, H/4, W/4]
            # decoder: mix channels at the low resolution (4x cheaper), then upsample and filter
            _pw(c4, c2), nn.Upsample(scale_factor=2, mode='nearest'),  # [N, c2, H/2, W/2]
            _dw(c2), _norm(c2), nn.ReLU(True),
            _pw(c2, c1), nn.Upsample(scale_factor=2, mode='nearest'),  # [N, c1, H, W]
            _dw(c1), _norm(c1), nn.ReLU(True),
            nn.ReflectionPad2d(3), nn.Conv2d(c1, c1, 7, groups=c1, bias=False),  # [N, c1, H, W]
            _pw(c1, 3, bias=True), nn.Tanh(),  # [N, 3, H, W] in [-1, 1]
        )

    def forward(self, x):  # [N, 3, H, W] in [-1, 1], H and W multiples of 4 -> [N, 3, H, W] in [-1, 1]
        return self.net(x)


# ----------------------------------------------------------------------------------------------
# PatchGAN discriminator


class PatchDiscriminator(nn.Module):
    def __init__(self, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers = [nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]  # [N, ndf, H/2, W/2]
        c = ndf
        for i in range(1, n_layers):  # each: channels x2 (capped at 8 ndf), size /2
            c_next = ndf * min(2 ** i, 8)
            layers += [nn.Conv2d(c, c_next, 4, 2, 1), _norm(c_next), nn.LeakyReLU(0.2, True)]
            c = c_next
        c_next = ndf * min(2 ** n_layers, 8)
        layers += [nn.Conv2d(c, c_next, 4, 1, 1), _norm(c_next), nn.LeakyReLU(0.2, True)]  # size -1
        layers += [nn.Conv2d(c_next, 1, 4, 1, 1)]  # [N, 1, h, w]: one real/fake score per patch
        self.net = nn.Sequential(*layers)

    def forward(self, x):  # [N, 3, H, W] -> [N, 1, H/2^n - 2, W/2^n - 2] (30x30 for 256, n=3)
        return self.net(x)


# ----------------------------------------------------------------------------------------------
# Registry

GENERATORS: Dict[str, Callable[..., nn.Module]] = {
    'resnet': ResnetGenerator,
    'fast': FastGenerator,
}
DISCRIMINATORS: Dict[str, Callable[..., nn.Module]] = {
    'patchgan': PatchDiscriminator,
}
# Named configurations (the values for Config.gen / ngf / n_blocks).
PRESETS: Dict[str, dict] = {
    'resnet9': dict(gen='resnet', ngf=64, n_blocks=9),  # the paper's
    'resnet6': dict(gen='resnet', ngf=64, n_blocks=6),  # the paper's for 128x128
    'fast32x9': dict(gen='fast', ngf=32, n_blocks=9),  # shipped models
    'fast24x9': dict(gen='fast', ngf=24, n_blocks=9),
    'fast16x6': dict(gen='fast', ngf=16, n_blocks=6),
}


def build_generator(cfg) -> nn.Module:
    if cfg.gen not in GENERATORS:
        raise ValueError(f'unknown generator {cfg.gen!r}; known: {sorted(GENERATORS)}')
    return GENERATORS[cfg.gen](ngf=cfg.ngf, n_blocks=cfg.n_blocks)


def build_discriminator(cfg) -> nn.Module:
    if cfg.disc not in DISCRIMINATORS:
        raise ValueError(f'unknown discriminator {cfg.disc!r}; known: {sorted(DISCRIMINATORS)}')
    return DISCRIMINATORS[cfg.disc](ndf=cfg.ndf, n_layers=cfg.d_layers)


def architecture_name(cfg) -> str:
    kind = {'fast': 'depthwise-separable ResNet generator', 'resnet': 'CycleGAN ResNet generator'}[cfg.gen]
    return f'{cfg.gen}-ngf{cfg.ngf}-b{cfg.n_blocks} ({kind})'


def init_weights(net: nn.Module, std: float = 0.02) -> None:
    """The paper's init: N(0, 0.02) weights, zero biases."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def count_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def count_macs(net: nn.Module, height: int = 256, width: int = 256) -> int:
    """Multiply-accumulates of one forward pass on a 1 x 3 x height x width input.

    Counts Conv2d, ConvTranspose2d and Linear (bias adds, norms and activations are not MACs).
    """
    total = [0]

    def conv_hook(m: nn.Conv2d, inp, out):
        kh, kw = m.kernel_size
        total[0] += out[0].numel() * (m.in_channels // m.groups) * kh * kw

    def convt_hook(m: nn.ConvTranspose2d, inp, out):
        kh, kw = m.kernel_size
        # each input pixel scatters a (out_channels/groups) x kh x kw patch
        total[0] += inp[0][0].numel() * (m.out_channels // m.groups) * kh * kw

    def linear_hook(m: nn.Linear, inp, out):
        total[0] += out[0].numel() * m.in_features

    handles = []
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.ConvTranspose2d):
            handles.append(m.register_forward_hook(convt_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = net.training
    net.eval()
    try:
        p = next(net.parameters())
        with torch.no_grad():
            net(torch.zeros(1, 3, height, width, device=p.device, dtype=p.dtype))
    finally:
        for h in handles:
            h.remove()
        net.train(was_training)
    return total[0]
