"""Published generators that our students learn from (distillation) and that we measure against.

Teachers are read in place from ../shared/teachers/ (or $CYCLESTREAM_TEACHERS). They are never
shipped and never copied into the repo; nothing is downloaded.

horse2zebra: GAN Compression's `sub_mobile_resnet_9blocks` with channel configuration
16_16_32_16_32_32_16_16 (Li et al., CVPR 2020), built here from the architecture table in its
SOURCE.md: 356,867 parameters, about 1.85 G MACs at 256x256. Input and output are RGB in [-1, 1].
The module indices match the checkpoint's `model.<index>` keys, so `load_state_dict(strict=True)`
is what checks that the architecture is the published one.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Sequence

import torch
from torch import nn

from training.data import REPO_ROOT


class TeacherNotFoundError(FileNotFoundError):
    """The teacher's weights are not where they should be; the message names the file and folder."""


def teachers_root() -> Path:
    env = os.environ.get('CYCLESTREAM_TEACHERS')
    return Path(env) if env else REPO_ROOT.parent / 'shared' / 'teachers'


def _norm(c: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(c, affine=False, track_running_stats=False)


class SeparableConv(nn.Module):
    """Depthwise 3x3 (with bias), InstanceNorm, pointwise 1x1 (with bias): `conv.0/1/2` in the checkpoint."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin, cin, 3, groups=cin), _norm(cin), nn.Conv2d(cin, cout, 1))

    def forward(self, x):  # [N, cin, h+2, w+2] (already padded) -> [N, cout, h, w]
        return self.conv(x)


class MobileResnetBlock(nn.Module):
    """x + (pad, sep conv c->hidden, IN, ReLU, dropout, pad, sep conv hidden->c, IN)."""

    def __init__(self, c: int, hidden: int):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), SeparableConv(c, hidden), _norm(hidden), nn.ReLU(True),
            nn.Dropout(0.0),  # index 4: weightless, kept so that the indices match the checkpoint
            nn.ReflectionPad2d(1), SeparableConv(hidden, c), _norm(c),
        )

    def forward(self, x):  # [N, c, h, w] -> [N, c, h, w]
        return x + self.conv_block(x)


class MobileResnetGenerator(nn.Module):
    """GAN Compression's mobile ResNet generator with per-layer widths.

    widths: channels after the first conv, after the two downsamplings, and after the two
    upsamplings; hidden: the hidden width of each residual block (its length = block count); k_out:
    the last conv's kernel (the teacher's 7; a 5x5 costs half as much at full resolution).
    """

    def __init__(self, c1: int = 16, c2: int = 32, c4: int = 128, u2: int = 32, u1: int = 16,
                 hidden: Sequence[int] = (64, 64, 64, 128, 128, 128, 128, 128, 128), k_out: int = 7):
        super().__init__()
        self.hidden = list(hidden)
        self.model = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(3, c1, 7), _norm(c1), nn.ReLU(True),  # 0-3: [N, c1, H, W]
            nn.Conv2d(c1, c2, 3, 2, 1), _norm(c2), nn.ReLU(True),  # 4-6: [N, c2, H/2, W/2]
            nn.Conv2d(c2, c4, 3, 2, 1), _norm(c4), nn.ReLU(True),  # 7-9: [N, c4, H/4, W/4]
            *[MobileResnetBlock(c4, h) for h in hidden],  # 10..: [N, c4, H/4, W/4]
            nn.ConvTranspose2d(c4, u2, 3, 2, 1, output_padding=1), _norm(u2), nn.ReLU(True),  # [N, u2, H/2, W/2]
            nn.ConvTranspose2d(u2, u1, 3, 2, 1, output_padding=1), _norm(u1), nn.ReLU(True),  # [N, u1, H, W]
            nn.ReflectionPad2d(k_out // 2), nn.Conv2d(u1, 3, k_out), nn.Tanh(),  # [N, 3, H, W] in [-1, 1]
        )

    @property
    def first_block(self) -> int:
        return 10

    def forward(self, x):  # [N, 3, H, W] in [-1, 1], H and W multiples of 4 -> [N, 3, H, W] in [-1, 1]
        return self.model(x.clamp(-1, 1))

    def forward_features(self, x: torch.Tensor, taps: Sequence[int]) -> Dict[int, torch.Tensor]:
        """The outputs of the layers at `taps` (indices into `model`) and the final image under -1."""
        out: Dict[int, torch.Tensor] = {}
        h = x.clamp(-1, 1)
        for i, layer in enumerate(self.model):
            h = layer(h)
            if i in taps:
                out[i] = h
        out[-1] = h
        return out


HORSE2ZEBRA = dict(folder='horse2zebra-gan-compression', file='latest_net_G.pth', domains=('horse', 'zebra'),
                   widths=dict(c1=16, c2=32, c4=128, u2=32, u1=16),
                   hidden=[64, 64, 64, 128, 128, 128, 128, 128, 128])
TEACHERS = {'horse2zebra': HORSE2ZEBRA}


def teacher_path(name: str = 'horse2zebra') -> Path:
    spec = TEACHERS[name]
    return teachers_root() / spec['folder'] / spec['file']


def load_teacher(name: str = 'horse2zebra', device: str = 'cpu') -> MobileResnetGenerator:
    """The published generator in eval mode with frozen weights."""
    if name not in TEACHERS:
        raise ValueError(f'unknown teacher {name!r}; known: {sorted(TEACHERS)}')
    spec = TEACHERS[name]
    path = teacher_path(name)
    if not path.is_file():
        raise TeacherNotFoundError(
            f'teacher weights not found: {path}. The {name} teacher is read in place from the shared folder '
            f'{teachers_root()} (set CYCLESTREAM_TEACHERS to the folder that holds {spec["folder"]}/); '
            'nothing is downloaded.')
    net = MobileResnetGenerator(**spec['widths'], hidden=spec['hidden'])
    state = torch.load(path, map_location='cpu')
    net.load_state_dict(state, strict=True)
    net.eval().requires_grad_(False)
    return net.to(device)


def teacher_info(name: str = 'horse2zebra') -> Dict[str, str]:
    """What a manifest records about a teacher (its origin is in the SOURCE.md beside the weights)."""
    spec = TEACHERS[name]
    return {
        'name': 'GAN Compression horse2zebra (sub_mobile_resnet_9blocks, 16_16_32_16_32_32_16_16)',
        'paper': 'Li et al., "GAN Compression: Efficient Architectures for Interactive Conditional GANs", CVPR 2020',
        'license': 'BSD (notice in LICENSE beside the weights)',
        'weights': f'../shared/teachers/{spec["folder"]}/{spec["file"]}',
    }


def block_taps(net: MobileResnetGenerator) -> List[int]:
    """Indices of the residual blocks' outputs, for feature distillation."""
    return [net.first_block + i for i in range(len(net.hidden))]
