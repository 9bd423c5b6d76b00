"""Unpaired image folders (CycleGAN layout: <root>/{trainA,trainB,testA,testB}).

Images (jpg, png, webp; greyscale or RGBA converted to RGB) are resized to load_px x load_px on
load (load_px 0 keeps the native size, so crops of a 256-px image at crop_px 128 keep the scale
the model will see at inference). Batches are random crops with random horizontal flips, drawn
with a torch.Generator whose state goes into checkpoints, so a resumed run sees the same batches.

Two ways to feed them: from disk per batch (fine on a CPU, where a step takes ~0.5 s), or with
preload=True: every image decoded once into one uint8 tensor on the training device, cropped
and flipped there (a GPU step is too short to wait for JPEG decoding).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.webp')
REPO_ROOT = Path(__file__).resolve().parent.parent


class DatasetError(Exception):
    """A dataset folder is missing or holds no images."""


class ImageReadError(DatasetError):
    """An image file could not be decoded; the message names the file."""


def datasets_root() -> Path:
    env = os.environ.get('CYCLESTREAM_DATASETS')
    return Path(env) if env else REPO_ROOT.parent / 'shared' / 'datasets'


def resolve_dataset(name_or_path: str) -> Path:
    """A path (absolute, or relative to the cwd or the repo root), else a name under datasets_root()."""
    p = Path(name_or_path)
    for cand in ([p] if p.is_absolute() else [p, REPO_ROOT / p, datasets_root() / p]):
        if cand.is_dir():
            return cand.resolve()
    raise DatasetError(
        f'dataset folder not found: {name_or_path!r} (looked in the cwd, {REPO_ROOT} and {datasets_root()}; '
        'set CYCLESTREAM_DATASETS to the folder that holds the datasets)')


def list_images(folder: Path) -> List[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f'dataset folder not found: {folder}')
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise DatasetError(f'dataset folder is empty: {folder} holds no {"/".join(e[1:] for e in IMAGE_EXTS)} images')
    return files


def load_image(path: Path, load_px: int = 0, min_px: int = 0) -> np.ndarray:
    """uint8 [H, W, 3]. Resized to load_px x load_px when load_px > 0; else upscaled only if its
    short side is below min_px."""
    try:
        with Image.open(path) as im:
            im.load()  # decode now so that truncated files fail here, not later
            im = im.convert('RGB')
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
        raise ImageReadError(f'cannot read image {path}: {e}') from e
    if load_px > 0 and im.size != (load_px, load_px):
        im = im.resize((load_px, load_px), Image.Resampling.BICUBIC)
    elif load_px <= 0 and min(im.size) < min_px:
        s = min_px / min(im.size)
        im = im.resize((max(min_px, round(im.width * s)), max(min_px, round(im.height * s))), Image.Resampling.BICUBIC)
    return np.array(im, dtype=np.uint8)  # a copy: torch wants writable arrays


def to_float(x_u8: torch.Tensor) -> torch.Tensor:
    """uint8 [..., 3, H, W] in 0..255 -> float32 in [-1, 1]."""
    return x_u8.float().div_(127.5).sub_(1.0)


def to_uint8_hwc(x: torch.Tensor) -> np.ndarray:
    """float [3, H, W] in [-1, 1] -> uint8 [H, W, 3]."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


class DomainImages:
    """The image files of one domain folder (e.g. trainA)."""

    def __init__(self, folder: Path, load_px: int, min_px: int = 0, max_images: int = 0):
        self.folder = Path(folder)
        files = list_images(self.folder)
        self.files = files[:max_images] if max_images > 0 else files
        self.load_px = load_px
        self.min_px = min_px

    def __len__(self) -> int:
        return len(self.files)

    def load(self, i: int) -> torch.Tensor:  # -> uint8 [3, H, W]
        return torch.from_numpy(load_image(self.files[i], self.load_px, self.min_px)).permute(2, 0, 1)

    def load_all(self, threads: int = 8) -> torch.Tensor:  # -> uint8 [N, 3, H, W]
        # PIL releases the GIL while decoding, so threads help
        with ThreadPoolExecutor(max(1, threads)) as ex:
            imgs = list(ex.map(self.load, range(len(self))))
        sizes = {tuple(t.shape) for t in imgs}
        if len(sizes) > 1:
            raise DatasetError(f'{self.folder}: images differ in size {sorted(sizes)[:3]}...; preload needs load_px > 0')
        return torch.stack(imgs)


class UnpairedBatches:
    """Random unaligned (A, B) batches of random crops and flips, as float [-1, 1] on `device`."""

    def __init__(self, a: DomainImages, b: DomainImages, batch_size: int, crop_px: int, flip: bool,
                 device: torch.device, preload: bool, generator: torch.Generator):
        self.a, self.b = a, b
        self.batch_size, self.crop_px, self.flip = batch_size, crop_px, flip
        self.device, self.g = device, generator
        self.cache_a = a.load_all().to(device) if preload else None
        self.cache_b = b.load_all().to(device) if preload else None

    def _batch(self, imgs: DomainImages, cache: Optional[torch.Tensor]) -> torch.Tensor:
        n, g, c = len(imgs), self.g, self.crop_px
        idx = torch.randint(0, n, (self.batch_size,), generator=g).tolist()
        # offsets as fractions, so images of different native sizes share one draw
        fy = torch.rand(self.batch_size, generator=g).tolist()
        fx = torch.rand(self.batch_size, generator=g).tolist()
        flips = (torch.rand(self.batch_size, generator=g) < 0.5).tolist() if self.flip else [False] * self.batch_size
        out = []
        for i, y, x, f in zip(idx, fy, fx, flips):
            img = cache[i] if cache is not None else imgs.load(i)  # uint8 [3, H, W]
            h, w = img.shape[-2:]
            if h < c or w < c:
                raise DatasetError(f'{imgs.files[i]} is {w}x{h}, smaller than crop_px {c}; raise load_px')
            y0, x0 = int(y * (h - c + 1)), int(x * (w - c + 1))
            crop = img[:, y0:y0 + c, x0:x0 + c]
            out.append(crop.flip(-1) if f else crop)
        batch = torch.stack(out)  # uint8 [B, 3, c, c]
        return to_float(batch.to(self.device, non_blocking=True))

    def next(self) -> Tuple[torch.Tensor, torch.Tensor]:  # -> ([B, 3, c, c], [B, 3, c, c]) in [-1, 1]
        return self._batch(self.a, self.cache_a), self._batch(self.b, self.cache_b)

    def fixed(self, n: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """n evenly spaced images per domain, centre-cropped: the sample grid's inputs."""
        def pick(imgs: DomainImages, cache):
            out = []
            for k in range(min(n, len(imgs))):
                i = k * len(imgs) // n
                img = cache[i] if cache is not None else imgs.load(i)
                h, w = img.shape[-2:]
                y0, x0 = (h - self.crop_px) // 2, (w - self.crop_px) // 2
                out.append(img[:, y0:y0 + self.crop_px, x0:x0 + self.crop_px])
            return to_float(torch.stack(out).to(self.device))
        return pick(self.a, self.cache_a), pick(self.b, self.cache_b)


def open_split(root: Path, split: str, load_px: int, min_px: int = 0, max_images: int = 0) -> Tuple[DomainImages, DomainImages]:
    """(A, B) images of split 'train' or 'test'."""
    return (DomainImages(Path(root) / f'{split}A', load_px, min_px, max_images),
            DomainImages(Path(root) / f'{split}B', load_px, min_px, max_images))


def save_grid(rows: List[List[torch.Tensor]], path: Path) -> None:
    """rows of float [3, H, W] images in [-1, 1] (same size) -> one PNG."""
    grid = np.concatenate([np.concatenate([to_uint8_hwc(x) for x in row], axis=1) for row in rows], axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + '.tmp')
    Image.fromarray(grid).save(tmp, format='PNG', compress_level=3)
    os.replace(tmp, path)
