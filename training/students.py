"""Student generators for distillation, and how to start one from the teacher's weights.

A student has the teacher's layout (training/teachers.py: MobileResnetGenerator) with fewer channels
and/or blocks. `prune_from_teacher` picks, for every layer, the channels that matter most to the layer
that reads them (the L2 norm of the consumer's weights on that channel, and for the residual stream
also how large the teacher's activations are on real images), and copies those slices of the
teacher's weights. Because every conv in the body is followed by InstanceNorm, a slice of the
teacher is already a sensible generator, and distillation starts from there instead of from noise.

MACs at 256x256 (training/models.py count_macs) and ONNX Runtime time at 256x456 on one core of the
dev machine (median of 15; the shipped fast16x6 took 26-32 ms in the same runs):
- 'rt' (8/16/64/16/8, 9 blocks of hidden 32): 0.45 G, ~35 ms: the realtime default.
- 'hq' (the teacher's widths, every block hidden 64): 1.43 G: video files and GPUs.
"""
from __future__ import annotations

from typing import Dict, List, Sequence

import torch
from torch import nn

from training.teachers import MobileResnetGenerator

STUDENTS: Dict[str, dict] = {
    'rt': dict(c1=8, c2=16, c4=64, u2=16, u1=8, hidden=[32] * 9),
    # the teacher's decoder widths (thin decoders blurred the stripes), a narrow body, a 5x5 last conv
    'rt2': dict(c1=8, c2=16, c4=64, u2=32, u1=16, hidden=[32] * 6, k_out=5),
    'hq': dict(c1=16, c2=32, c4=128, u2=32, u1=16, hidden=[64] * 9),
    'tiny': dict(c1=4, c2=8, c4=16, u2=8, u1=4, hidden=[8] * 2),  # tests only
}


def build_student(name: str) -> MobileResnetGenerator:
    if name not in STUDENTS:
        raise ValueError(f'unknown student {name!r}; known: {sorted(STUDENTS)}')
    return MobileResnetGenerator(**STUDENTS[name])


def student_architecture(name: str) -> str:
    s = STUDENTS[name]
    return (f'mobile-resnet-{name} ({s["c1"]}/{s["c2"]}/{s["c4"]}/{s["u2"]}/{s["u1"]}, '
            f'{len(s["hidden"])} blocks of hidden {"/".join(map(str, sorted(set(s["hidden"]))))}'
            f'{", " + str(s["k_out"]) + "x" + str(s["k_out"]) + " last conv" if s.get("k_out", 7) != 7 else ""}; '
            'GAN Compression layout, distilled)')


def _norm(w: torch.Tensor, keep: int) -> torch.Tensor:
    """L2 norm of w over every dimension but `keep` (torch 1.13's norm takes at most two dims)."""
    return w.transpose(0, keep).reshape(w.shape[keep], -1).norm(dim=1)


def _top(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k largest scores, in ascending index order (keeps the teacher's channel order)."""
    return torch.sort(torch.topk(scores, k).indices).values


@torch.no_grad()
def _stream_magnitude(teacher: MobileResnetGenerator, images: torch.Tensor) -> torch.Tensor:
    """Mean |activation| of each residual-stream channel over all block inputs and the last output."""
    taps = [teacher.first_block - 1] + [teacher.first_block + i for i in range(len(teacher.hidden))]
    feats = teacher.forward_features(images, taps)
    return torch.stack([feats[t].abs().mean(dim=(0, 2, 3)) for t in taps]).mean(0)  # [c4]


@torch.no_grad()
def prune_from_teacher(teacher: MobileResnetGenerator, student: MobileResnetGenerator,
                       images: torch.Tensor) -> List[int]:
    """Copies slices of the teacher's weights into `student` (in place).

    images: [N, 3, H, W] real inputs in [-1, 1], for the residual stream's activation sizes. The student
    may have fewer blocks than the teacher: it then takes the teacher's blocks evenly spaced.
    Returns which teacher block each student block came from.
    """
    T, S = teacher.model, student.model
    tb, sb = teacher.first_block, student.first_block
    nT, nS = len(teacher.hidden), len(student.hidden)
    blocks = [round(i * (nT - 1) / max(nS - 1, 1)) for i in range(nS)] if nS < nT else list(range(nS))
    up1, up2, last = tb + nT, tb + nT + 3, tb + nT + 7  # ConvTranspose, ConvTranspose, final conv
    s_up1, s_up2, s_last = sb + nS, sb + nS + 3, sb + nS + 7

    def width(m: nn.Module, dim: int) -> int:
        return m.weight.shape[dim]

    # channel choices, each scored by the layer that reads the channel
    c1 = _top(_norm(T[4].weight, 1), width(S[1], 0))
    c2 = _top(_norm(T[7].weight, 1), width(S[4], 0))
    reads = _norm(T[up1].weight, 0)  # ConvTranspose weight: [in, out, k, k]
    for b in blocks:
        sep = T[tb + b].conv_block[1].conv
        reads = reads + _norm(sep[0].weight, 0) * _norm(sep[2].weight, 1)
    c4 = _top(reads * _stream_magnitude(teacher, images), width(S[7], 0))
    u2 = _top(_norm(T[up2].weight, 0), width(S[s_up1], 1))
    u1 = _top(_norm(T[last].weight, 1), width(S[s_up2], 1))

    def copy(dst: nn.Module, src: nn.Module, out_idx, in_idx, transposed: bool = False) -> None:
        w = src.weight
        w = w[in_idx][:, out_idx] if transposed else w[out_idx][:, in_idx]
        cut = (w.shape[-1] - dst.weight.shape[-1]) // 2  # a smaller kernel takes the centre of the teacher's
        if cut > 0:
            w = w[..., cut:-cut, cut:-cut]
        dst.weight.copy_(w)
        if dst.bias is not None:
            dst.bias.copy_(src.bias[out_idx] if out_idx is not None else src.bias)

    every = slice(None)
    copy(S[1], T[1], c1, every)
    copy(S[4], T[4], c2, c1)
    copy(S[7], T[7], c4, c2)
    for i, b in enumerate(blocks):
        tsep1, tsep2 = T[tb + b].conv_block[1].conv, T[tb + b].conv_block[6].conv
        ssep1, ssep2 = S[sb + i].conv_block[1].conv, S[sb + i].conv_block[6].conv
        hid = _top(_norm(tsep2[0].weight, 0) * _norm(tsep2[2].weight, 1), width(ssep1[2], 0))
        copy(ssep1[0], tsep1[0], c4, every)  # depthwise: one filter per kept channel
        copy(ssep1[2], tsep1[2], hid, c4)
        copy(ssep2[0], tsep2[0], hid, every)
        copy(ssep2[2], tsep2[2], c4, hid)
    copy(S[s_up1], T[up1], u2, c4, transposed=True)
    copy(S[s_up2], T[up2], u1, u2, transposed=True)
    copy(S[s_last], T[last], every, u1)
    return blocks


def feature_taps(net: MobileResnetGenerator, count: int) -> List[int]:
    """`count` evenly spaced residual-block outputs (always the last one), as indices into `model`."""
    n = len(net.hidden)
    picks = sorted({round((i + 1) * n / count) - 1 for i in range(count)})
    return [net.first_block + p for p in picks]


def matching_taps(student: MobileResnetGenerator, teacher: MobileResnetGenerator, s_taps: Sequence[int]) -> List[int]:
    """The teacher block output at the same relative depth as each student tap."""
    nS, nT = len(student.hidden), len(teacher.hidden)
    return [teacher.first_block + round((t - student.first_block + 1) * nT / nS) - 1 for t in s_taps]
