"""Shared fixtures. The real images come from the shared datasets folder (../shared/datasets beside
the repo, or $CYCLESTREAM_DATASETS); CI has the same layout."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from training.data import REPO_ROOT, datasets_root


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(2)


@pytest.fixture(scope='session')
def h2z_root() -> Path:
    root = datasets_root() / 'horse2zebra'
    if not (root / 'trainA').is_dir():
        pytest.fail(f'real test images not found at {root}; set CYCLESTREAM_DATASETS')
    return root


@pytest.fixture(scope='session')
def tiny_dataset(tmp_path_factory, h2z_root) -> Path:
    """A handful of real horse2zebra images in the CycleGAN layout (6 per split)."""
    root = tmp_path_factory.mktemp('tiny') / 'tiny_h2z'
    for split in ('trainA', 'trainB', 'testA', 'testB'):
        (root / split).mkdir(parents=True)
        for f in sorted((h2z_root / split).glob('*.jpg'))[:6]:
            shutil.copy(f, root / split / f.name)
    return root


def tiny_config(dataset: Path, out_dir: Path, **kw):
    """A CycleGAN small enough to take a few steps per second on 2 CPU cores."""
    from training.config import Config
    base = dict(dataset=str(dataset), out_dir=str(out_dir), load_px=40, crop_px=32, gen='fast', ngf=8,
                n_blocks=2, ndf=8, d_layers=2, batch_size=2, iters=6, log_every=1, pool_size=3,
                progress=False, device='cpu', n_samples=1)
    base.update(kw)
    return Config(**base)
