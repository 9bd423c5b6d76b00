"""The manifest's judged sections, each built from test images and their translations (evaluate.py writes
them): the ImageNet judge where zebras are involved, the painting judge for painters, agreement with a
published teacher, and flicker on real clips."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch
from torch import nn

from training.domain_classifier import translation_success
from training.metrics import STATIC_THRESHOLD, flicker, read_clip, ssim_grey


@torch.no_grad()
def run_generator(G: nn.Module, x: torch.Tensor, batch: int = 8) -> torch.Tensor:
    return torch.cat([G(x[i:i + batch]) for i in range(0, len(x), batch)])


def imagenet_metrics(fake: torch.Tensor, x_src: torch.Tensor, src: str, dst: str) -> Optional[Dict]:
    """The ImageNet judge's verdict where one side of the translation is zebra (ImageNet class 340)."""
    from training.judge import judge_path, summary

    if 'zebra' not in (src, dst) or not judge_path().is_file():
        return None
    out, base = summary(fake), summary(x_src)
    return {
        'classifier': 'MobileNetV2-1.0 int8, ONNX Model Zoo (../shared/models/imagenet-mobilenetv2-int8)',
        **out, 'inputsTop1Zebra': base['top1Zebra'], 'inputsMeanPZebra': base['meanPZebra'], 'images': len(fake),
        'note': ('share of translated test images whose ImageNet top-1 class is zebra, and their mean P(zebra); '
                 + ('higher is better' if dst == 'zebra' else 'lower is better (still a zebra)')
                 + '; inputs* = the same for the untranslated inputs. Model zoo preprocessing (short side 256, centre 224).'),
    }


PAINTER_DOMAINS = ('monet', 'vangogh', 'cezanne', 'ukiyoe', 'painting')


def painting_judge(classify, fake: torch.Tensor, x_src: torch.Tensor, src: str, dst: str, px: int,
                   cls_info: Dict) -> Optional[Dict]:
    """For a painter dataset (A = paintings, B = photos), the painting-vs-photo classifier's verdict in
    words a model card can use: the share of translated images it calls the target kind."""
    if dst in PAINTER_DOMAINS and src not in PAINTER_DOMAINS:
        target, kind = 0, 'painting'
    elif src in PAINTER_DOMAINS and dst not in PAINTER_DOMAINS:
        target, kind = 1, 'photo'
    else:
        return None
    return {
        'target': kind,
        'share': round(translation_success(classify, fake, target), 4),
        'inputsShare': round(translation_success(classify, x_src, target), 4),
        'images': len(fake),
        'classifierPx': px,
        'classifierTestAccuracy': cls_info.get('testAccuracy'),
        'note': (f'share of translated test images that a {px} px {dst}-vs-{src} classifier, trained here on the real '
                 f'train images, calls a {kind}; inputsShare = the same for the untranslated inputs'),
    }


def teacher_agreement(fake: torch.Tensor, x_src: torch.Tensor, src: str, dst: str) -> Optional[Dict]:
    from training.teachers import TEACHERS, load_teacher, teacher_path

    name = next((k for k, v in TEACHERS.items() if tuple(v['domains']) == (src, dst)), None)
    if name is None or not teacher_path(name).is_file():
        return None
    T = load_teacher(name)
    ref = run_generator(T, x_src)
    return {'teacher': name, 'l1': round(float((fake - ref).abs().mean()), 4),
            'ssimGrey': round(float(ssim_grey(fake, ref).mean()), 4), 'images': len(fake)}


def flicker_metrics(G, videos_dir: Path, frames_per_clip: int) -> Optional[Dict]:
    clips = sorted(videos_dir.glob('*.mp4')) if videos_dir.is_dir() else []
    per_clip = {}
    for clip in clips:
        try:
            frames = read_clip(clip, 256, frames_per_clip)
        except OSError as e:
            print(f'skipping {clip.name}: {e}', flush=True)
            continue
        per_clip[clip.name] = {k: round(v, 5) for k, v in flicker(frames, G(frames)).items()}
        per_clip[clip.name]['frames'] = len(frames)
    if not per_clip:
        return None
    mean_of = lambda k: round(float(np.mean([c[k] for c in per_clip.values()])), 5)  # noqa: E731
    return {
        'outputChangeStatic': mean_of('outputChangeStatic'),
        'inputChangeStatic': mean_of('inputChangeStatic'),
        'note': f'mean |out_t - out_t-1| (0..1 scale) over pixels with |in_t - in_t-1| < {STATIC_THRESHOLD}, '
                f'first {frames_per_clip} frames of each clip at short side 256, no temporal smoothing; '
                'inputChangeStatic is the same measure of the input',
        'clips': per_clip,
    }
