"""Evaluate one exported generator and write the results into its manifest's `metrics`.

    npm run evaluate -- --checkpoint runs/horse2zebra/final.pt --manifest models/horse2zebra.json

The paper's FID needs Inception weights, which we cannot download, so the metrics are our own:
(a) translationSuccess: share of translated test images that a domain classifier puts in the
    target domain. The classifier is a small CNN trained here on the real train images of both
    domains (cached under runs/classifiers/); its accuracy on the real test images is reported.
(b) kidClassifierFeatures: KID (cubic polynomial kernel, unbiased MMD^2, mean/std over subsets)
    between translated and real target test images, on that classifier's pooled features, NOT on
    Inception features, so it is comparable only with other numbers from this script.
(c) content preservation: cycle L1 (needs the reverse generator, so the full CycleGAN checkpoint),
    SSIM of greyscale input vs output and the correlation of their Sobel edge magnitudes.
(d) flicker on the real clips in <datasets>/videos: mean |out_t - out_t-1| over pixels whose input
    barely changes (|in_t - in_t-1| < 0.02 on a 0..1 scale), next to the same measure of the input.
It also writes a PNG grid of test images (input | output) beside the manifest, for the model card.
"""
from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import math
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import config as C  # noqa: E402
from data import DomainImages, datasets_root, open_split, resolve_dataset, save_grid, to_float  # noqa: E402
from models import build_generator  # noqa: E402
from train import load_checkpoint  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------------------------
# (a) the domain classifier


class DomainClassifier(nn.Module):
    """Small CNN: [N, 3, px, px] in [-1, 1] -> logits [N, 2] (0 = domain A, 1 = domain B)."""

    def __init__(self, width: int = 32):
        super().__init__()

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

        w = width
        # strided first conv: on these CPUs the full-resolution activations (norm, ReLU) cost more
        # than the convolutions
        self.body = nn.Sequential(
            nn.Conv2d(3, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True),  # [N, w, px/2, px/2]
            *block(w, 2 * w), nn.MaxPool2d(2),  # [N, 2w, px/4, px/4]
            *block(2 * w, 4 * w), nn.MaxPool2d(2),  # [N, 4w, px/8, px/8]
            *block(4 * w, 8 * w),  # [N, 8w, px/8, px/8]
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # [N, 8w]: the features KID uses
        )
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(8 * w, 2))

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.body(x))


def resize_for_classifier(x: torch.Tensor, px: int) -> torch.Tensor:
    """[N, 3, H, W] -> [N, 3, px, px] (area averaging; the classifier sees whole images)."""
    return F.interpolate(x, size=(px, px), mode='area')


def train_classifier(root: Path, px: int = 64, width: int = 24, epochs: int = 8, seed: int = 0,
                     batch: int = 64) -> Tuple[DomainClassifier, dict]:
    """Trains on the real trainA/trainB images; reports accuracy on the real testA/testB images."""
    t0 = time.time()
    torch.manual_seed(seed)
    def load(imgs: DomainImages) -> torch.Tensor:
        return resize_for_classifier(to_float(imgs.load_all(4)), px)

    tr_a, tr_b = open_split(root, 'train', 0)
    xa, xb = load(tr_a), load(tr_b)
    x = torch.cat([xa, xb])
    y = torch.cat([torch.zeros(len(xa), dtype=torch.long), torch.ones(len(xb), dtype=torch.long)])
    # augmentation: shifts of up to px/16 (reflect-padded) and flips, at the scale used for testing
    pad = max(1, px // 16)
    x = F.pad(x, (pad, pad, pad, pad), mode='reflect')
    net = DomainClassifier(width)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * math.ceil(len(x) / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.2)
    g = torch.Generator().manual_seed(seed)
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            oy, ox = torch.randint(0, 2 * pad + 1, (2,), generator=g).tolist()
            xb_, yb_ = x[idx, :, oy:oy + px, ox:ox + px], y[idx]
            flip = torch.rand(len(idx), generator=g) < 0.5
            xb_ = torch.where(flip[:, None, None, None], xb_.flip(-1), xb_)
            loss = F.cross_entropy(net(xb_), yb_)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    te_a, te_b = open_split(root, 'test', 0)
    pa = predict(net, resize_for_classifier(to_float(te_a.load_all(4)), px))
    pb = predict(net, resize_for_classifier(to_float(te_b.load_all(4)), px))
    acc_a, acc_b = float((pa == 0).float().mean()), float((pb == 1).float().mean())
    info = {
        'arch': f'DomainClassifier width {width} ({sum(p.numel() for p in net.parameters()):,} params)',
        'inputPx': px, 'epochs': epochs, 'seed': seed,
        'trainedOn': f'real trainA ({len(tr_a)}) + trainB ({len(tr_b)}) images of {root.name}',
        'testAccuracy': round((acc_a * len(te_a) + acc_b * len(te_b)) / (len(te_a) + len(te_b)), 4),
        'testAccuracyA': round(acc_a, 4), 'testAccuracyB': round(acc_b, 4),
        'testImages': [len(te_a), len(te_b)], 'trainSeconds': round(time.time() - t0, 1),
    }
    return net, info


def get_classifier(root: Path, px: int, width: int, epochs: int, seed: int,
                   cache_dir: Optional[Path]) -> Tuple[DomainClassifier, dict]:
    """Loads the cached classifier for this dataset and settings, or trains and caches one."""
    path = cache_dir / f'{root.name}-px{px}-w{width}-e{epochs}-s{seed}.pt' if cache_dir else None
    if path is not None and path.is_file():
        state = torch.load(path, map_location='cpu')
        net = DomainClassifier(width)
        net.load_state_dict(state['model'])
        net.eval()
        return net, state['info']
    net, info = train_classifier(root, px, width, epochs, seed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({'model': net.state_dict(), 'info': info}, path)
    return net, info


@torch.no_grad()
def predict(net: nn.Module, x: torch.Tensor, batch: int = 128) -> torch.Tensor:
    """Class ids, from logits averaged over the image and its mirror image."""
    return torch.cat([(net(x[i:i + batch]) + net(x[i:i + batch].flip(-1))).argmax(1) for i in range(0, len(x), batch)])


@torch.no_grad()
def features(net: DomainClassifier, x: torch.Tensor, batch: int = 128) -> torch.Tensor:
    return torch.cat([net.features(x[i:i + batch]) for i in range(0, len(x), batch)]).double()


def translation_success(classify: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, target: int) -> float:
    """Share of images that `classify` (images -> class ids) puts in class `target`."""
    return float((classify(images) == target).float().mean())


# ----------------------------------------------------------------------------------------------
# (b) KID


def kid(x: torch.Tensor, y: torch.Tensor, subset_size: int = 100, n_subsets: int = 50, seed: int = 0) -> Tuple[float, float]:
    """Kernel Inception Distance formula (Binkowski et al. 2018) on any features [N, d]:
    unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, mean and std over random subsets."""
    x, y = x.double(), y.double()
    d = x.shape[1]
    m = min(subset_size, len(x), len(y))
    g = torch.Generator().manual_seed(seed)
    vals = []
    for _ in range(n_subsets):
        a = x[torch.randperm(len(x), generator=g)[:m]]
        b = y[torch.randperm(len(y), generator=g)[:m]]
        kxx = (a @ a.T / d + 1) ** 3
        kyy = (b @ b.T / d + 1) ** 3
        kxy = (a @ b.T / d + 1) ** 3
        mmd = ((kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
               + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
               - 2 * kxy.mean())
        vals.append(float(mmd))
    v = torch.tensor(vals)
    return float(v.mean()), float(v.std()) if len(v) > 1 else 0.0


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


# ----------------------------------------------------------------------------------------------
# running a generator


@torch.no_grad()
def run_generator(G: nn.Module, x: torch.Tensor, batch: int = 8) -> torch.Tensor:
    return torch.cat([G(x[i:i + batch]) for i in range(0, len(x), batch)])


class OnnxGenerator:
    """A generator exported to ONNX and run with ONNX Runtime, as the server runs it. On our CPUs
    torch 1.13's depthwise convolutions take ~1-2 s per 256x256 image, ONNX Runtime ~60 ms."""

    def __init__(self, G: nn.Module, path: Path, threads: int):
        from export import export_onnx
        export_onnx(G, path)
        self.path, self.threads = path, threads

    def __call__(self, x: torch.Tensor, batch: int = 16) -> torch.Tensor:
        from export import run_onnx
        return torch.cat([torch.from_numpy(np.array(run_onnx(self.path, x[i:i + batch].numpy(), self.threads)))
                          for i in range(0, len(x), batch)])


def evaluate(checkpoint: Path, manifest_path: Path, dataset: Optional[str] = None, direction: Optional[str] = None,
             classifier_px: int = 64, classifier_width: int = 24, classifier_epochs: int = 8, seed: int = 0,
             cache_dir: Optional[Path] = REPO_ROOT / 'runs' / 'classifiers', videos_dir: Optional[Path] = None,
             flicker_frames: int = 48, max_test: int = 0, grid_path: Optional[Path] = None,
             threads: int = 2, command: str = '', backend: str = 'onnx') -> dict:
    t0 = time.time()
    torch.set_num_threads(threads)
    manifest = json.loads(Path(manifest_path).read_text())
    state = load_checkpoint(checkpoint)
    cfg = C.from_dict(state['config'])
    if direction is None:
        pair = (manifest['domains']['from'], manifest['domains']['to'])
        if pair == (cfg.domain_a, cfg.domain_b):
            direction = 'AB'
        elif pair == (cfg.domain_b, cfg.domain_a):
            direction = 'BA'
        else:
            raise ValueError(f'manifest domains {pair} match neither direction of the checkpoint '
                             f'({cfg.domain_a}, {cfg.domain_b}); pass --direction')
    gens = {}
    for name in ('G_AB', 'G_BA'):
        G = build_generator(cfg)
        G.load_state_dict(state[name])
        gens[name] = G.eval()
    G, G_rev = (gens['G_AB'], gens['G_BA']) if direction == 'AB' else (gens['G_BA'], gens['G_AB'])
    tmp = tempfile.TemporaryDirectory()
    from export import onnx_runtime_available
    if backend == 'onnx' and not onnx_runtime_available():
        print('no ONNX Runtime here (Python onnxruntime or node + onnxruntime-node); running torch instead', flush=True)
        backend = 'torch'
    if backend == 'onnx':
        G, G_rev = OnnxGenerator(G, Path(tmp.name) / 'g.onnx', threads), OnnxGenerator(G_rev, Path(tmp.name) / 'rev.onnx', threads)
    else:
        G, G_rev = functools.partial(run_generator, G), functools.partial(run_generator, G_rev)
    src_split, dst_split, target = ('A', 'B', 1) if direction == 'AB' else ('B', 'A', 0)

    # the real, full-quality dataset (training may have used a re-encoded copy)
    root = resolve_dataset(dataset or Path(cfg.dataset).name)
    net, cls_info = get_classifier(root, classifier_px, classifier_width, classifier_epochs, seed, cache_dir)
    print(f'classifier: {cls_info}', flush=True)

    src = DomainImages(root / f'test{src_split}', 0, max_images=max_test)
    dst = DomainImages(root / f'test{dst_split}', 0, max_images=max_test)
    x_src, x_dst = to_float(src.load_all(4)), to_float(dst.load_all(4))
    if x_src.shape[-1] % 4 or x_src.shape[-2] % 4:
        raise ValueError(f'test images are {tuple(x_src.shape[-2:])}; evaluate expects sides that are multiples of 4')
    fake = G(x_src)
    rec = G_rev(fake)

    small = lambda z: resize_for_classifier(z, classifier_px)  # noqa: E731
    classify = lambda z: predict(net, small(z))  # noqa: E731
    success = translation_success(classify, fake, target)
    baseline_success = translation_success(classify, x_src, target)
    f_fake, f_dst, f_src = features(net, small(fake)), features(net, small(x_dst)), features(net, small(x_src))
    kid_mean, kid_std = kid(f_fake, f_dst, seed=seed)
    kid_base, _ = kid(f_src, f_dst, seed=seed)

    metrics = {
        'evaluatedAt': dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'evaluator': 'training/evaluate.py',
        'testSet': f'{root.name} test{src_split} ({len(src)} images) -> test{dst_split} ({len(dst)}), real JPEGs at native size',
        'translationSuccess': round(success, 4),
        'translationSuccessNote': 'share of translated test images the domain classifier assigns to the target domain; '
                                  f'untranslated inputs score {baseline_success:.3f}',
        'classifier': cls_info,
        'kidClassifierFeatures': {
            'mean': round(kid_mean, 5), 'std': round(kid_std, 5),
            'untranslatedBaseline': round(kid_base, 5),
            'note': f'KID formula on the domain classifier\'s {f_fake.shape[1]}-d pooled features (not Inception): '
                    'translated vs real target test images; untranslatedBaseline = source vs target test images. '
                    'Lower is better; not comparable with published KID.',
        },
        'cycleL1': round(cycle_l1(x_src, rec), 4),
        'cycleL1Note': 'mean |G_rev(G(x)) - x| on the test inputs, in [-1, 1] units',
        'ssimGrey': round(float(ssim_grey(x_src, fake).mean()), 4),
        'sobelEdgeCorrelation': round(float(edge_correlation(x_src, fake).mean()), 4),
    }

    videos_dir = videos_dir or datasets_root() / 'videos'
    clips = sorted(videos_dir.glob('*.mp4')) if videos_dir.is_dir() else []
    per_clip = {}
    for clip in clips:
        try:
            frames = read_clip(clip, 256, flicker_frames)
        except OSError as e:
            print(f'skipping {clip.name}: {e}', flush=True)
            continue
        per_clip[clip.name] = {k: round(v, 5) for k, v in flicker(frames, G(frames)).items()}
        per_clip[clip.name]['frames'] = len(frames)
    if per_clip:
        mean_of = lambda k: round(float(np.mean([c[k] for c in per_clip.values()])), 5)  # noqa: E731
        metrics['flicker'] = {
            'outputChangeStatic': mean_of('outputChangeStatic'),
            'inputChangeStatic': mean_of('inputChangeStatic'),
            'note': f'mean |out_t - out_t-1| (0..1 scale) over pixels with |in_t - in_t-1| < {STATIC_THRESHOLD}, '
                    f'first {flicker_frames} frames of each clip at short side 256, no temporal smoothing; '
                    'inputChangeStatic is the same measure of the input',
            'clips': per_clip,
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
    from export import validate_manifest
    validate_manifest(Path(manifest_path))
    print(json.dumps(metrics, indent=2), flush=True)
    return metrics


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--checkpoint', required=True, help='final.pt or ckpt.pt of the CycleGAN run (both generators)')
    p.add_argument('--manifest', required=True, help='models/<id>.json written by export.py')
    p.add_argument('--dataset', help='dataset name or folder with testA/testB (default: the checkpoint\'s dataset name)')
    p.add_argument('--direction', choices=['AB', 'BA'], help='default: from the manifest\'s domains')
    p.add_argument('--classifier_px', type=int, default=64)
    p.add_argument('--classifier_width', type=int, default=24)
    p.add_argument('--classifier_epochs', type=int, default=8)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--flicker_frames', type=int, default=48)
    p.add_argument('--max_test', type=int, default=0, help='use only the first N test images per domain')
    p.add_argument('--grid', help='PNG path (default: beside the manifest, <id>.grid.png)')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--backend', choices=['onnx', 'torch'], default='onnx',
                   help='run the generators with ONNX Runtime (default, as served) or torch')
    a = p.parse_args(argv)
    cmd = shlex.join([os.path.basename(sys.executable), 'training/evaluate.py'] + list(argv if argv is not None else sys.argv[1:]))
    evaluate(Path(a.checkpoint), Path(a.manifest), a.dataset, a.direction, a.classifier_px, a.classifier_width,
             a.classifier_epochs, a.seed, flicker_frames=a.flicker_frames, max_test=a.max_test,
             grid_path=Path(a.grid) if a.grid else None, threads=a.threads, command=cmd, backend=a.backend)


if __name__ == '__main__':
    main()
