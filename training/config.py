"""Every knob of a CycleGAN run, in one dataclass.

The config is saved in every checkpoint and printed at the start of a run (values that differ
from the defaults are marked with '*'). Defaults follow the CycleGAN paper where it has a value
(Adam 2e-4 / beta1 0.5, lambda 10, identity 0.5*lambda, pool of 50, 70x70 PatchGAN, batch 1,
load 286 crop 256, constant LR for the first half then linear decay to 0). The generator
default is the fast depthwise-separable one, since our models must run in realtime on a CPU.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple


@dataclass
class Config:
    # --- data ---
    # A folder holding trainA/trainB (and testA/testB), or a dataset name looked up under the
    # datasets root ($CYCLESTREAM_DATASETS, else ../shared/datasets beside the repo).
    dataset: str = 'horse2zebra'
    # How the images used differ from the released dataset (recorded in the model's provenance).
    dataset_note: str = ''
    # Names of the two domains ('' = from the dataset folder's name: 'monet2photo' gives monet and
    # photo, 'horse2zebra' horse and zebra; any other name gives '<name>-a' and '<name>-b'). They
    # name the exported models (<from>2<to>), so a new dataset never takes a shipped model's id.
    domain_a: str = ''
    domain_b: str = ''
    load_px: int = 286  # resize every image to load_px x load_px on load; 0 keeps its own size
    crop_px: int = 256  # random square crop taken from the loaded image
    flip: bool = True  # random horizontal flips
    max_images: int = 0  # use only the first N images of each domain (0 = all)
    preload: bool = False  # decode all images once into a uint8 tensor on the device; crop/flip there

    # --- models (see models.py for the registry) ---
    gen: str = 'fast'  # 'fast' (depthwise-separable, realtime on CPU) or 'resnet' (the paper's)
    ngf: int = 32  # generator width: channels after the first conv
    n_blocks: int = 9  # residual blocks at 1/4 resolution
    disc: str = 'patchgan'
    ndf: int = 64  # discriminator width
    d_layers: int = 3  # stride-2 layers in the PatchGAN (3 gives the paper's 70x70 patches)

    # --- optimisation ---
    batch_size: int = 1
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5  # identity loss weight, as a fraction of lambda_cycle
    # Frame-to-frame stability: L1 between G(x) and G(x + noise), noise ~ N(0, stable_noise) in [-1, 1]
    # units (camera noise is ~0.01-0.03). A live filter whose output jumps when the sensor noise
    # changes flickers on a static scene; this asks both generators to ignore that noise. 0 = off.
    lambda_stable: float = 0.0
    stable_noise: float = 0.03
    # Keep the input's edges: 1 - correlation of input and output Sobel magnitudes (training/losses.py).
    # For style filters, whose texture otherwise adds edges everywhere and blurs the scene's own. 0 = off.
    lambda_edge: float = 0.0
    pool_size: int = 50  # history of generated images shown to the discriminators
    epochs: float = 200.0  # one epoch = max(|A|, |B|) images; ignored when iters or a time budget is set
    iters: int = 0  # total generator updates (0: derive from epochs or from the time budget)
    decay_start: float = 0.5  # fraction of the run after which the LR decays linearly to 0
    seed: int = 0
    # Start both generators from a finished run's final.pt (same architecture) instead of random
    # weights; optimisers, discriminators and the LR schedule start fresh. For continuing a short
    # run on a new budget.
    init_from: str = ''

    # --- wall-clock budget ---
    # When > 0: after a warm-up, measure it/s and fix the total iteration count so the whole run
    # (including the LR decay to 0) ends inside this many minutes, counted from process start.
    time_budget_min: float = 0.0
    budget_warmup_iters: int = 10  # iterations not timed (allocator, cudnn autotune, compile)
    budget_measure_s: float = 20.0  # seconds of timed iterations (at most 10% of the budget)
    budget_safety: float = 0.92  # fraction of the remaining time the resolved iterations may fill

    # --- runtime ---
    device: str = 'auto'  # 'auto' (cuda if available), 'cpu', 'cuda', 'cuda:1', ...
    threads: int = 2  # torch CPU threads (CPU runs)
    amp: bool = True  # bf16 autocast on CUDA
    # NHWC memory format on CUDA. Off by default: InstanceNorm makes its input NCHW-contiguous (ATen's
    # instance_norm calls .contiguous()), so with it every norm layer adds two layout copies.
    channels_last: bool = False
    compile: bool = False  # torch.compile the networks (CUDA, torch 2.x); falls back to eager on error
    out_dir: str = 'runs/horse2zebra'
    resume: bool = False  # continue from out_dir/ckpt.pt
    stop_after: int = 0  # stop (with a checkpoint) after this many iterations of this invocation; 0 = run to the end
    log_every: int = 50  # iterations between loss CSV rows
    sample_every_epochs: int = 1
    ckpt_every_epochs: int = 1
    n_samples: int = 2  # images per domain in the sample grid
    progress: bool = True  # tqdm progress bar


# Fields that describe where/how a run executes rather than what it learns. They may differ
# between a checkpoint and the config that resumes it; every other field must match.
RUNTIME_FIELDS = frozenset({
    'dataset', 'preload', 'device', 'threads', 'amp', 'channels_last', 'compile', 'out_dir', 'resume',
    'stop_after', 'log_every', 'progress', 'time_budget_min', 'budget_warmup_iters', 'budget_measure_s',
    'budget_safety', 'sample_every_epochs', 'ckpt_every_epochs', 'n_samples',
})


def domains_from_dataset(dataset: str) -> Tuple[str, str]:
    """The domain names a dataset folder's name implies (see Config.domain_a)."""
    name = re.sub(r'[^a-z0-9_-]+', '-', Path(dataset.rstrip('/')).name.lower()).strip('-')[:24] or 'dataset'
    m = re.fullmatch(r'([a-z]+)2([a-z]+)(?:_[a-z0-9_-]*)?', name)
    return (m.group(1), m.group(2)) if m else (f'{name}-a', f'{name}-b')


def with_domains(cfg: Config) -> Config:
    """cfg with empty domain names filled in from its dataset."""
    a, b = domains_from_dataset(cfg.dataset)
    return dataclasses.replace(cfg, domain_a=cfg.domain_a or a, domain_b=cfg.domain_b or b)


class ConfigMismatchError(ValueError):
    """A checkpoint was trained with a config that differs from the requested one."""


def to_dict(cfg: Config) -> Dict[str, Any]:
    return dataclasses.asdict(cfg)


def from_dict(d: Dict[str, Any]) -> Config:
    known = {f.name for f in fields(Config)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigMismatchError(f'checkpoint config has fields this code does not know: {unknown}')
    return Config(**d)


def diff(saved: Dict[str, Any], requested: Config, ignore=RUNTIME_FIELDS) -> List[str]:
    """Human-readable list of fields whose values differ (runtime fields ignored)."""
    req = to_dict(requested)
    # A field added after the checkpoint was written had its default value in that run.
    defaults = to_dict(type(requested)())
    out = []
    for name in sorted(set(saved) | set(req)):
        if name in ignore:
            continue
        if saved.get(name, defaults.get(name, '<missing>')) != req.get(name, '<missing>'):
            out.append(f'{name}: checkpoint={saved.get(name, "<missing>")!r} requested={req.get(name, "<missing>")!r}')
    return out


def check_resume(saved: Dict[str, Any], requested: Config, path: str) -> None:
    bad = diff(saved, requested)
    if bad:
        raise ConfigMismatchError(
            f'checkpoint {path} was trained with a different config; refusing to resume.\n  '
            + '\n  '.join(bad)
            + '\nUse the same values, or another --out_dir for a new run.')


def describe(cfg: Any) -> str:
    """One line per field of a config dataclass; '*' marks values that differ from the defaults."""
    default = type(cfg)()
    width = max(len(f.name) for f in fields(cfg))
    lines = []
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        mark = '*' if v != getattr(default, f.name) else ' '
        lines.append(f'{mark} {f.name:<{width}} = {v!r}')
    return '\n'.join(lines)


def _bool_arg(s: str) -> bool:
    if s.lower() in ('1', 'true', 'yes', 'on'):
        return True
    if s.lower() in ('0', 'false', 'no', 'off'):
        return False
    raise argparse.ArgumentTypeError(f'expected a boolean, got {s!r}')


def add_arguments(parser: argparse.ArgumentParser, cls: type = Config) -> None:
    """One --flag per field of the dataclass `cls`. Booleans take --x / --no-x or --x=false."""
    for f in fields(cls):
        default = f.default
        if isinstance(default, bool):
            parser.add_argument(f'--{f.name}', nargs='?', const=True, default=None, type=_bool_arg)
            parser.add_argument(f'--no-{f.name}', dest=f.name, action='store_const', const=False)
        else:
            parser.add_argument(f'--{f.name}', type=type(default), default=None)


def from_args(ns: argparse.Namespace, base: Optional[Any] = None, cls: type = Config) -> Any:
    cfg = base or cls()
    changes = {f.name: getattr(ns, f.name) for f in fields(cfg) if getattr(ns, f.name, None) is not None}
    return dataclasses.replace(cfg, **changes)


def parse_args(argv: Optional[List[str]] = None) -> Config:
    parser = argparse.ArgumentParser(description='Train a CycleGAN (see training/config.py for every knob).')
    add_arguments(parser)
    return from_args(parser.parse_args(argv))
