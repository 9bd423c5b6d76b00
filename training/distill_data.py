"""Inputs for distillation: a pool of training images, their augmentation, and the CPU teacher cache.

The pool holds every image once as uint8 [3, 256, 256]: all of trainA (the teacher's input domain),
the first `extra_b` of trainB and the first `extra_scenes` of a landscape set's trainA+trainB. A sample
is a random image (trainA with probability `horse_share`, else one of the extras), scaled by a random
factor in [scale_min, scale_max] (never below crop_px), randomly cropped to crop_px, maybe flipped, with colour jitter.

In reverse mode (a student for the other direction, where no teacher exists) the pairs are swapped:
the teacher's output is the input and the real image the target (pseudo-pairs).

TeacherCache (CPU): `cache_size` such samples with the teacher's output and block features, computed
once and kept as memory-mapped files under runs/distill-cache/<key>/, where the key is everything
that changes them. A second run with the same data settings reuses them.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from training.data import list_images, load_image, resolve_dataset, to_float

POOL_PX = 256


def augment(img_u8: torch.Tensor, gen: torch.Generator, crop_px: int, scale_min: float, scale_max: float,
            jitter: float) -> torch.Tensor:
    """uint8 [3, H, W] -> float [3, crop_px, crop_px] in [-1, 1]: random scale, crop, flip, colour jitter."""
    r = torch.rand(7, generator=gen).tolist()
    x = to_float(img_u8)[None]
    h, w = x.shape[-2:]
    s = max(crop_px / min(h, w), scale_min + r[0] * (scale_max - scale_min))
    if s != 1.0:
        x = F.interpolate(x, size=(max(crop_px, round(h * s)), max(crop_px, round(w * s))), mode='bilinear',
                          align_corners=False, antialias=s < 1)  # averaged when shrinking, as a camera scaler does
    h, w = x.shape[-2:]
    y0, x0 = int(r[1] * (h - crop_px + 1)), int(r[2] * (w - crop_px + 1))
    x = x[0, :, y0:y0 + crop_px, x0:x0 + crop_px]
    if r[3] < 0.5:
        x = x.flip(-1)
    if jitter > 0:
        b, c, sat = (1 + jitter * (2 * v - 1) for v in r[4:7])
        x = (x + 1) / 2 * b  # brightness
        mean = x.mean()
        x = (x - mean) * c + mean  # contrast
        grey = x.mean(dim=0, keepdim=True)
        x = (x - grey) * sat + grey  # saturation
        x = x.clamp(0, 1) * 2 - 1
    return x.contiguous()


class Pool:
    def __init__(self, images: torch.Tensor, sources: List[str], target: torch.Tensor, gan_inputs: torch.Tensor):
        self.images = images  # uint8 [N, 3, 256, 256]
        self.sources = sources  # 'A' (teacher's input domain), 'B' (its output domain), 'S' (scenes)
        self.target = target  # uint8 [M, 3, 256, 256]: real images of the student's output domain, for the GAN
        self.gan_inputs = gan_inputs  # reverse mode: real images of the student's input domain, for the GAN and the cycle
        self.a_idx = [i for i, s in enumerate(sources) if s == 'A']
        self.extra_idx = [i for i, s in enumerate(sources) if s != 'A']

    def counts(self) -> Dict[str, int]:
        return {k: self.sources.count(k) for k in ('A', 'B', 'S')}

    def _pick(self, gen: torch.Generator, share_a: float) -> int:
        u, v = torch.rand(2, generator=gen).tolist()
        group = self.a_idx if (u < share_a or not self.extra_idx) else self.extra_idx
        return group[int(v * len(group))]

    def sample(self, gen: torch.Generator, n: int, cfg, device: torch.device = torch.device('cpu')) -> Tuple[torch.Tensor, List[int]]:
        """n augmented samples: ([n, 3, crop, crop] in [-1, 1] on `device`, pool indices)."""
        idx = [self._pick(gen, cfg.horse_share) for _ in range(n)]
        x = torch.stack([augment(self.images[i], gen, cfg.crop_px, cfg.scale_min, cfg.scale_max, cfg.jitter) for i in idx])
        return x.to(device), idx

    def sample_clean(self, gen: torch.Generator, n: int, cfg) -> Tuple[torch.Tensor, List[int]]:
        """n unaugmented trainA images in [-1, 1] (for choosing which teacher channels to keep)."""
        idx = [self.a_idx[int(v * len(self.a_idx))] for v in torch.rand(n, generator=gen).tolist()]
        return to_float(self.images[idx]), idx


def sample_real(images: torch.Tensor, gen: torch.Generator, n: int, cfg) -> torch.Tensor:
    """n augmented images (no colour jitter) from uint8 `images` [N, 3, H, W], e.g. a Pool's target or gan_inputs;
    cfg gives crop_px, scale_min and scale_max."""
    idx = (torch.rand(n, generator=gen) * len(images)).long().tolist()
    return torch.stack([augment(images[i], gen, cfg.crop_px, cfg.scale_min, cfg.scale_max, 0.0) for i in idx])


def load_images(files: Sequence[Path]) -> torch.Tensor:
    """The files as uint8 [N, 3, 256, 256] (resized to the pool's size)."""
    return torch.stack([torch.from_numpy(load_image(f, POOL_PX)).permute(2, 0, 1) for f in files])


def load_pool(cfg) -> Pool:
    root = resolve_dataset(cfg.dataset)
    files_a = list_images(root / 'trainA')
    files_b = list_images(root / 'trainB')
    extras_b = files_b[:cfg.extra_b]
    scenes: List[Path] = []
    if cfg.scenes and cfg.extra_scenes > 0:
        s_root = resolve_dataset(cfg.scenes)
        both = list_images(s_root / 'trainA') + list_images(s_root / 'trainB')
        scenes = both[::max(1, len(both) // cfg.extra_scenes)][:cfg.extra_scenes]
    t0 = time.time()
    images = load_images(files_a + extras_b + scenes)
    # the GAN's real images: trainB beyond those used as inputs, so that it judges unseen zebras
    none = torch.zeros(0, 3, POOL_PX, POOL_PX, dtype=torch.uint8)
    target, gan_inputs = none, none
    if cfg.reverse and (cfg.lambda_gan > 0 or cfg.lambda_cycle > 0):  # the student maps real B to A
        gan_inputs = load_images(files_b[cfg.extra_b:] or files_b)
        if cfg.lambda_gan > 0:  # and is judged against real A
            target = images[:len(files_a)]
    elif cfg.lambda_gan > 0 and cfg.gan_real == 'data':  # trainB beyond those used as inputs, so that D judges unseen images
        target = load_images(files_b[cfg.extra_b:] or files_b)
    print(f'pool: {len(files_a)} trainA + {len(extras_b)} trainB + {len(scenes)} scenes, '
          f'{len(target)} real targets, {len(gan_inputs)} real GAN inputs, loaded in {time.time() - t0:.0f} s', flush=True)
    return Pool(images, ['A'] * len(files_a) + ['B'] * len(extras_b) + ['S'] * len(scenes), target, gan_inputs)


class TeacherCache:
    """Precomputed (input, teacher output, teacher features) triples as memory-mapped arrays."""

    KEY_FIELDS = ('teacher', 'reverse', 'dataset', 'extra_b', 'scenes', 'extra_scenes', 'horse_share', 'crop_px',
                  'scale_max', 'jitter', 'cache_size', 'seed')

    def __init__(self, folder: Path, size: int, taps: Sequence[int], feat_shape: Tuple[int, int, int]):
        self.folder, self.size, self.taps = folder, size, list(taps)
        mode = 'r'
        c = json.loads((folder / 'meta.json').read_text())
        crop = c['crop_px']
        self.x = np.memmap(folder / 'inputs.f16', np.float16, mode, shape=(size, 3, crop, crop))
        self.y = np.memmap(folder / 'outputs.f16', np.float16, mode, shape=(size, 3, crop, crop))
        self.f = [np.memmap(folder / f'feat{t}.f16', np.float16, mode, shape=(size, *feat_shape)) for t in self.taps]

    @classmethod
    def key(cls, cfg, taps: Sequence[int]) -> str:
        d = {k: getattr(cfg, k) for k in cls.KEY_FIELDS}
        d['taps'] = list(taps)
        if cfg.scale_min != 1.0:  # added later: caches built before it keep their key
            d['scale_min'] = cfg.scale_min
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]

    @classmethod
    @torch.no_grad()
    def open_or_build(cls, root: Path, cfg, teacher, pool: Pool, taps: Sequence[int]) -> 'TeacherCache':
        folder = root / cls.key(cfg, taps)
        crop = cfg.crop_px
        feat_shape = (teacher.model[teacher.first_block - 3].out_channels, crop // 4, crop // 4)
        if not (folder / 'meta.json').is_file():
            folder.mkdir(parents=True, exist_ok=True)
            gen = torch.Generator().manual_seed(cfg.seed + 1_000_003)  # its own stream: the cache is shared by runs
            n = cfg.cache_size
            xs = np.memmap(folder / 'inputs.f16', np.float16, 'w+', shape=(n, 3, crop, crop))
            ys = np.memmap(folder / 'outputs.f16', np.float16, 'w+', shape=(n, 3, crop, crop))
            fs = [np.memmap(folder / f'feat{t}.f16', np.float16, 'w+', shape=(n, *feat_shape)) for t in taps]
            t0 = time.time()
            for i in range(0, n, 8):
                x, _ = pool.sample(gen, min(8, n - i), cfg)
                feats = teacher.forward_features(x, taps)
                # reverse: the student learns the teacher's inverse, from its output back to its input
                x_in, y = (feats[-1], x) if cfg.reverse else (x, feats[-1])
                xs[i:i + len(x)] = x_in.numpy()
                ys[i:i + len(x)] = y.numpy()
                for f, t in zip(fs, taps):
                    f[i:i + len(x)] = feats[t].numpy()
                if (i // 8) % 25 == 0:
                    print(f'teacher cache: {i + len(x)}/{n} ({time.time() - t0:.0f} s)', flush=True)
            for a in [xs, ys, *fs]:
                a.flush()
            meta = {k: getattr(cfg, k) for k in cls.KEY_FIELDS}
            meta.update(taps=list(taps), scale_min=cfg.scale_min, seconds=round(time.time() - t0, 1))
            (folder / 'meta.json').write_text(json.dumps(meta, indent=1))
        return cls(folder, cfg.cache_size, taps, feat_shape)

    def batch(self, gen: torch.Generator, n: int) -> Tuple[torch.Tensor, torch.Tensor, List[torch.Tensor]]:
        idx = sorted((torch.rand(n, generator=gen) * self.size).long().tolist())
        take = lambda a: torch.from_numpy(np.ascontiguousarray(a[idx])).float()  # noqa: E731
        return take(self.x), take(self.y), [take(f) for f in self.f]
