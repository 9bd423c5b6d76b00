"""Evaluate one exported generator and write the results into its manifest's `metrics`.

    npm run evaluate -- --checkpoint runs/distill-rt/final.pt --manifest models/horse2zebra.json
    npm run evaluate -- --checkpoint runs/h2z/final.pt --manifest models/zebra2horse.json

Checkpoints of training/train.py (a CycleGAN, both generators) and of training/distill.py (one
student) are both accepted. What is measured, in the order the manifest lists it:
(a) imagenet: an ImageNet classifier (training/judge.py), independent of our training, judges the
    translated test images: for horse->zebra the share whose top-1 class is zebra and their mean
    P(zebra); for zebra->horse the share still called zebra (lower is better). The same two numbers
    for the untranslated inputs stand beside them. This is the primary semantic measure.
(b) teacherAgreement (horse->zebra, where the teacher is in ../shared/teachers): L1 and grey SSIM
    between our output and the published teacher's on the same test images.
(c) content preservation: SSIM of greyscale input vs output, correlation of their Sobel edge
    magnitudes, and cycle L1 where the checkpoint holds the reverse generator.
(d) flicker on the real clips in <datasets>/videos: mean |out_t - out_t-1| over pixels whose input
    barely changes (|in_t - in_t-1| < 0.02 on a 0..1 scale), next to the same measure of the input.
(e) translationSuccess and KID on a domain classifier trained here at 128 px (training/domain_classifier.py
    says what it can be fooled by: at 64 px, grey texture everywhere scored better than real stripes).
It also writes a PNG grid of test images (input | output) beside the manifest, for the model card.
"""
from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from training import config as C
from training.checkpoint import load_checkpoint
from training.data import REPO_ROOT, DomainImages, datasets_root, resolve_dataset, save_grid, to_float
from training.domain_classifier import features, get_classifier, kid, predict, resize_for_classifier, translation_success
from training.judged import flicker_metrics, imagenet_metrics, painting_judge, run_generator, teacher_agreement
from training.metrics import AtProcessingSize, cycle_l1, edge_correlation, ssim_grey
from training.models import build_generator


class OnnxGenerator:
    """A generator exported to ONNX and run with ONNX Runtime, as the server runs it. On our CPUs
    torch 1.13's depthwise convolutions take ~1-2 s per 256x256 image, ONNX Runtime ~60 ms.
    With G None, `path` is an ONNX file that already exists (a shipped model)."""

    def __init__(self, G: Optional[nn.Module], path: Path, threads: int):
        from training.export import export_onnx
        if G is not None:
            export_onnx(G, path)
        self.path, self.threads = path, threads

    def __call__(self, x: torch.Tensor, batch: int = 16) -> torch.Tensor:
        from training.export import run_onnx
        return torch.cat([torch.from_numpy(np.array(run_onnx(self.path, x[i:i + batch].numpy(), self.threads)))
                          for i in range(0, len(x), batch)])


def load_generators(checkpoint: Path, domains: Tuple[str, str], direction: Optional[str]
                    ) -> Tuple[nn.Module, Optional[nn.Module], str, str]:
    """(G, the reverse generator or None, the dataset name, 'AB' or 'BA') for the manifest's domains."""
    from training.distill_export import is_distilled, load_student

    if is_distilled(checkpoint):
        G, state = load_student(checkpoint)
        if tuple(state['domains']) != tuple(domains):
            raise ValueError(f'manifest domains {domains} differ from the student\'s {state["domains"]}')
        return G, None, Path(state['config']['dataset']).name, 'AB'
    state = load_checkpoint(checkpoint)
    cfg = C.from_dict(state['config'])
    if direction is None:
        if domains == (cfg.domain_a, cfg.domain_b):
            direction = 'AB'
        elif domains == (cfg.domain_b, cfg.domain_a):
            direction = 'BA'
        else:
            raise ValueError(f'manifest domains {domains} match neither direction of the checkpoint '
                             f'({cfg.domain_a}, {cfg.domain_b}); pass --direction')
    gens = {}
    for name in ('G_AB', 'G_BA'):
        G = build_generator(cfg)
        G.load_state_dict(state[name])
        gens[name] = G.eval()
    fwd, rev = ('G_AB', 'G_BA') if direction == 'AB' else ('G_BA', 'G_AB')
    return gens[fwd], gens[rev], Path(cfg.dataset).name, direction


def direction_for(dataset: str, src_name: str) -> str:
    """'BA' when the model's input domain is the dataset's B side by the folder's name (a photo -> painting model
    on monet2photo, whose trainA holds the paintings), else 'AB'."""
    from training.config import domains_from_dataset
    return 'BA' if domains_from_dataset(dataset)[1] == src_name else 'AB'


def evaluate(checkpoint: Path, manifest_path: Path, dataset: Optional[str] = None, direction: Optional[str] = None,
             classifier_px: int = 128, classifier_width: int = 24, classifier_epochs: int = 8, seed: int = 0,
             cache_dir: Optional[Path] = REPO_ROOT / 'runs' / 'classifiers', videos_dir: Optional[Path] = None,
             flicker_frames: int = 48, max_test: int = 0, grid_path: Optional[Path] = None,
             threads: int = 2, command: str = '', backend: str = 'onnx', process_px: int = 0) -> dict:
    t0 = time.time()
    torch.set_num_threads(threads)
    manifest = json.loads(Path(manifest_path).read_text())
    src_name, dst_name = manifest['domains']['from'], manifest['domains']['to']
    tmp = tempfile.TemporaryDirectory()
    from training.export import onnx_runtime_available
    if Path(checkpoint).suffix == '.onnx':  # a model without its checkpoint: judged as the server runs it
        if not dataset:
            raise ValueError('evaluating an ONNX file needs --dataset')
        G, G_rev, ds_name = OnnxGenerator(None, Path(checkpoint), threads), None, dataset
        direction = direction or direction_for(dataset, src_name)
        backend = 'onnx'
    else:
        G, G_rev, ds_name, direction = load_generators(Path(checkpoint), (src_name, dst_name), direction)
        if backend == 'onnx' and not onnx_runtime_available():
            print('no ONNX Runtime here (Python onnxruntime or node + onnxruntime-node); running torch instead', flush=True)
            backend = 'torch'
        wrap = (lambda g, n: OnnxGenerator(g, Path(tmp.name) / n, threads)) if backend == 'onnx' \
            else (lambda g, n: functools.partial(run_generator, g))
        G = wrap(G, 'g.onnx')
        G_rev = wrap(G_rev, 'rev.onnx') if G_rev is not None else None
    if process_px:
        G = AtProcessingSize(G, process_px)
    src_split, dst_split, target = ('A', 'B', 1) if direction == 'AB' else ('B', 'A', 0)

    # the real, full-quality dataset (training may have used a re-encoded copy)
    root = resolve_dataset(dataset or ds_name)
    src = DomainImages(root / f'test{src_split}', 0, max_images=max_test)
    dst = DomainImages(root / f'test{dst_split}', 0, max_images=max_test)
    x_src, x_dst = to_float(src.load_all(4)), to_float(dst.load_all(4))
    if x_src.shape[-1] % 4 or x_src.shape[-2] % 4:
        raise ValueError(f'test images are {tuple(x_src.shape[-2:])}; evaluate expects sides that are multiples of 4')
    fake = G(x_src)

    metrics: Dict = {
        'evaluatedAt': dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'evaluator': 'training/evaluate.py',
        'testSet': f'{root.name} test{src_split} ({len(src)} images) -> test{dst_split} ({len(dst)}), real JPEGs at native size',
    }
    if process_px:
        metrics['processingShortSidePx'] = process_px
    judged = imagenet_metrics(fake, x_src, src_name, dst_name)
    if judged:
        metrics['imagenet'] = judged
        print(f'ImageNet judge: {judged}', flush=True)
    agreement = teacher_agreement(fake, x_src, src_name, dst_name)
    if agreement:
        metrics['teacherAgreement'] = agreement
    metrics['ssimGrey'] = round(float(ssim_grey(x_src, fake).mean()), 4)
    metrics['sobelEdgeCorrelation'] = round(float(edge_correlation(x_src, fake).mean()), 4)
    if G_rev is not None:
        metrics['cycleL1'] = round(cycle_l1(x_src, G_rev(fake)), 4)
        metrics['cycleL1Note'] = 'mean |G_rev(G(x)) - x| on the test inputs, in [-1, 1] units'
    flick = flicker_metrics(G, videos_dir or datasets_root() / 'videos', flicker_frames)
    if flick:
        metrics['flicker'] = flick

    net, cls_info = get_classifier(root, classifier_px, classifier_width, classifier_epochs, seed, cache_dir)
    print(f'domain classifier: {cls_info}', flush=True)
    small = lambda z: resize_for_classifier(z, classifier_px)  # noqa: E731
    classify = lambda z: predict(net, small(z))  # noqa: E731
    f_fake, f_dst, f_src = features(net, small(fake)), features(net, small(x_dst)), features(net, small(x_src))
    kid_mean, kid_std = kid(f_fake, f_dst, seed=seed)
    kid_base, _ = kid(f_src, f_dst, seed=seed)
    metrics['translationSuccess'] = round(translation_success(classify, fake, target), 4)
    metrics['translationSuccessNote'] = (
        f'share of translated test images that a {classifier_px} px domain classifier trained here assigns to the target '
        f'domain; untranslated inputs score {translation_success(classify, x_src, target):.3f}. Texture and colour '
        'statistics decide it, so it can be fooled by texture painted everywhere: read it after the ImageNet judge')
    metrics['classifier'] = cls_info
    style = painting_judge(classify, fake, x_src, src_name, dst_name, classifier_px, cls_info)
    if style:
        metrics['paintingJudge'] = style
    metrics['kidClassifierFeatures'] = {
        'mean': round(kid_mean, 5), 'std': round(kid_std, 5), 'untranslatedBaseline': round(kid_base, 5),
        'note': f'KID formula on the domain classifier\'s {f_fake.shape[1]}-d pooled features (not Inception): '
                'translated vs real target test images; untranslatedBaseline = source vs target test images. '
                'Lower is better; not comparable with published KID.',
    }

    # grid for the model card: input | output pairs of evenly spaced test images
    grid_path = grid_path or Path(manifest_path).with_suffix('.grid.png')
    pick = [i * len(x_src) // 8 for i in range(min(8, len(x_src)))]
    pairs = [[x_src[i], fake[i]] for i in pick]
    rows = [sum(pairs[r:r + 4], []) for r in range(0, len(pairs), 4)]
    if len(rows) > 1 and len(rows[-1]) != len(rows[0]):
        rows = rows[:-1]
    save_grid(rows, grid_path)

    tmp.cleanup()
    metrics['gridPng'] = os.path.relpath(grid_path, Path(manifest_path).parent)
    metrics['inference'] = 'ONNX Runtime (CPU), the exported graph' if backend == 'onnx' else f'torch {torch.__version__} (CPU)'
    metrics['evaluationSeconds'] = round(time.time() - t0, 1)
    if command:
        metrics['command'] = command
    manifest['metrics'] = metrics
    Path(manifest_path).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + '\n')
    from training.export import validate_manifest
    validate_manifest(Path(manifest_path))
    print(json.dumps(metrics, indent=2), flush=True)
    return metrics


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--checkpoint', required=True,
                   help='final.pt of a train.py run (both generators) or of a distill.py run, or an .onnx model (with --dataset, --direction)')
    p.add_argument('--manifest', required=True, help='models/<id>.json written by export.py')
    p.add_argument('--dataset', help='dataset name or folder with testA/testB (default: the checkpoint\'s dataset name)')
    p.add_argument('--direction', choices=['AB', 'BA'], help='train.py checkpoints; default: from the manifest\'s domains')
    p.add_argument('--classifier_px', type=int, default=128)
    p.add_argument('--classifier_width', type=int, default=24)
    p.add_argument('--classifier_epochs', type=int, default=8)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--flicker_frames', type=int, default=48)
    p.add_argument('--max_test', type=int, default=0, help='use only the first N test images per domain')
    p.add_argument('--grid', help='PNG path (default: beside the manifest, <id>.grid.png)')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--backend', choices=['onnx', 'torch'], default='onnx',
                   help='run the generators with ONNX Runtime (default, as served) or torch')
    p.add_argument('--process_px', type=int, default=0,
                   help='run the generator with the short side scaled to this many px and scale back (the live '
                        'path\'s PROCESSING_SHORT_SIDE_PX), to measure what a lower processing size costs; 0 = native')
    a = p.parse_args(argv)
    if a.process_px and (a.process_px < 16 or a.process_px % 4):
        p.error('--process_px must be a multiple of 4, at least 16')
    cmd = shlex.join(['python3', '-m', 'training.evaluate'] + list(argv if argv is not None else sys.argv[1:]))
    evaluate(Path(a.checkpoint), Path(a.manifest), a.dataset, a.direction, a.classifier_px, a.classifier_width,
             a.classifier_epochs, a.seed, flicker_frames=a.flicker_frames, max_test=a.max_test,
             grid_path=Path(a.grid) if a.grid else None, threads=a.threads, command=cmd, backend=a.backend,
             process_px=a.process_px)


if __name__ == '__main__':
    main()
