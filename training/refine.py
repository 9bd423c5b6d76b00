"""Refine a shipped model against flicker and lost edges, keeping its look: it learns from itself.

    npm run refine -- --model photo2vangogh --dataset vangogh2photo --lambda_stable 1 --lambda_edge 1 \
        --time_budget_min 90 --threads 1 --out_dir runs/refine-vangogh
    npm run export -- --checkpoint runs/refine-vangogh/final.pt --id photo2vangogh --overwrite

A CycleGAN generator learns its style from a discriminator, and nothing in that asks it to hold still:
on a camera, sensor noise and sub-pixel motion move its texture every frame. Here a frozen copy of the
model (read back from models/<id>.onnx, training/onnx_weights.py) is the teacher, and a trainable copy
learns, on the model's own input domain (random crops, flips, mild colour jitter):
- L1 to the frozen model's output on the clean input, from a noisy input: the style stays as it was;
- a shift stability term (training/losses.py): the output for the input moved by a fraction of a pixel,
  with other noise, is the output moved by as much, so the texture travels with the scene;
- optionally the edge term (1 - edge correlation of input and output): the scene's edges stay put.
It is supervised, so it needs no discriminator, and a few thousand CPU steps move it. Copying the original
from noisy inputs regresses its texture toward a mean, which can read as "photo" again (photo2monet did);
`--lambda_gan` adds an LSGAN against real images of the target domain (the dataset's other split), with a
PatchGAN discriminator trained alongside from scratch, to hold the style up while the copy calms down.

Every `eval_every` steps the curve (<out_dir>/curve.csv) records, on the first test inputs: the judge
evaluate.py uses (the painting-vs-photo classifier's painting share for painters, the ImageNet judge's
zebra share where zebras are involved), edges kept and L1 to the original; and the flicker ratio on the
first frames of the real clips. The checkpoint holds the config and the source manifest, so export.py
writes the refined model's manifest with the whole lineage.
"""
from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import math
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch
from torch import nn

from training import config as C
from training.data import REPO_ROOT, datasets_root, list_images, resolve_dataset, to_float
from training.distill import lr_at  # the same schedule: constant, then a linear decay to 5%
from training.distill_data import augment, load_images, sample_real
from training.distill_eval import write_curve
from training.losses import edge_loss, lsgan_d_loss, shift_stability_loss
from training.models import PatchDiscriminator
from training.onnx_weights import OnnxWeightsError, load_shipped
from training.refine_export import REFINE_FORMAT
from training.runtime import hardware_name, pick_device

@dataclass
class RefineConfig:
    model: str = 'photo2vangogh'  # models/<model>.onnx and its manifest
    dataset: str = 'vangogh2photo'  # trainA/trainB; the split of the model's input domain is used
    max_images: int = 2000  # of that split, loaded once
    crop_px: int = 128
    scale_min: float = 1.0
    scale_max: float = 1.3
    jitter: float = 0.1
    input_noise: float = 0.02  # std of the Gaussian noise on the inputs ([-1, 1] units)
    lambda_l1: float = 1.0  # to the frozen model's output on the clean input
    lambda_stable: float = 1.0
    stable_shift_px: float = 1.0
    lambda_edge: float = 0.0
    lambda_gan: float = 0.0  # LSGAN against real target-domain images (0 = no discriminator)
    ndf: int = 64  # the discriminator's width, when lambda_gan > 0
    batch_size: int = 4
    lr: float = 1e-4
    steps: int = 0  # total steps (0: run until the time budget)
    time_budget_min: float = 0.0
    decay_fraction: float = 0.25  # the LR decays linearly to 5% over the last part of the run
    seed: int = 0
    device: str = 'auto'
    threads: int = 1
    models_dir: str = 'models'
    out_dir: str = 'runs/refine'
    resume: bool = False
    stop_after: int = 0
    log_every: int = 25
    ckpt_every: int = 200
    eval_every: int = 400
    eval_images: int = 40  # first N test inputs for the curve (0 = no curve)
    eval_frames: int = 16  # first frames of each real clip for the curve's flicker (0 = none)


RUNTIME = {'device', 'threads', 'out_dir', 'resume', 'stop_after', 'log_every', 'ckpt_every', 'eval_every',
           'eval_images', 'eval_frames', 'time_budget_min', 'steps', 'models_dir'}


def input_split(dataset: Path, source_domain: str) -> str:
    a, b = C.domains_from_dataset(str(dataset))
    if source_domain not in (a, b):
        raise SystemExit(f'the model translates from {source_domain!r}, but {dataset.name} holds {a!r} (trainA) and {b!r} (trainB)')
    return 'A' if source_domain == a else 'B'


@torch.no_grad()
def curve_row(G: nn.Module, original: nn.Module, x: Optional[torch.Tensor], judge, clips: List[torch.Tensor]) -> Dict[str, float]:
    from training.metrics import edge_correlation, flicker

    G.eval()
    row: Dict[str, float] = {}
    if x is not None:
        y = torch.cat([G(x[i:i + 8]) for i in range(0, len(x), 8)])
        ref = torch.cat([original(x[i:i + 8]) for i in range(0, len(x), 8)])
        row = {'edgeCorrelation': round(float(edge_correlation(x, y).mean()), 4), 'l1Original': round(float((y - ref).abs().mean()), 4)}
        if judge is not None:
            row.update(judge(y))
    if clips:
        f = [flicker(c, torch.cat([G(c[i:i + 8]) for i in range(0, len(c), 8)])) for c in clips]
        row['flickerRatio'] = round(sum(v['outputChangeStatic'] for v in f) / max(1e-9, sum(v['inputChangeStatic'] for v in f)), 3)
    G.train()
    return row


def judge_for(dataset: Path, src: str, dst: str):
    """What the curve scores a batch of translations by, as evaluate.py does: for a painter dataset the
    share the painting-vs-photo classifier calls paintings, for zebras the ImageNet judge; else None."""
    from training.judged import PAINTER_DOMAINS
    from training.domain_classifier import get_classifier, predict, resize_for_classifier, translation_success
    from training.judge import summary

    if 'zebra' in (src, dst):
        return summary  # top1Zebra, meanPZebra: for zebra -> horse, lower is better
    if not (dst in PAINTER_DOMAINS and src not in PAINTER_DOMAINS):
        return None
    net, _ = get_classifier(dataset, 128, 24, 8, 0, REPO_ROOT / 'runs' / 'classifiers')
    return lambda y: {'paintingShare': round(translation_success(lambda z: predict(net, resize_for_classifier(z, 128)), y, 0), 4)}


def main(argv: Optional[Sequence[str]] = None) -> Path:
    p = argparse.ArgumentParser(description='Refine a shipped model against flicker and lost edges (see training/refine.py).')
    C.add_arguments(p, RefineConfig)
    cfg: RefineConfig = C.from_args(p.parse_args(argv), cls=RefineConfig)
    t_start = time.time()
    out = Path(cfg.out_dir) if Path(cfg.out_dir).is_absolute() else REPO_ROOT / cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    device = pick_device(cfg.device)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    print(C.describe(cfg), flush=True)

    # --- the model, twice: a frozen original and the copy that learns ---
    models = Path(cfg.models_dir) if Path(cfg.models_dir).is_absolute() else REPO_ROOT / cfg.models_dir
    try:
        original, source = load_shipped(models, cfg.model)
    except OnnxWeightsError as e:
        raise SystemExit(f'--model {cfg.model}: {e}')
    original.eval().requires_grad_(False).to(device)
    G = copy.deepcopy(original).requires_grad_(True).train()

    # --- data: the model's input domain ---
    root = resolve_dataset(cfg.dataset)
    src, dst = source['domains']['from'], source['domains']['to']
    split = input_split(root, src)
    files = list_images(root / f'train{split}')[:cfg.max_images]
    images = load_images(files)  # uint8 [N, 3, 256, 256]
    print(f'{len(images)} {src} images from {root.name}/train{split}', flush=True)
    targets = load_images(list_images(root / f'train{"B" if split == "A" else "A"}')[:cfg.max_images]) if cfg.lambda_gan else None
    D = PatchDiscriminator(cfg.ndf, 3).to(device) if cfg.lambda_gan else None
    x_eval = judge = None
    clips: List[torch.Tensor] = []
    if cfg.eval_images:
        test = list_images(root / f'test{split}')[:cfg.eval_images]
        x_eval = to_float(load_images(test)).to(device)
        judge = judge_for(root, src, dst)
    if cfg.eval_frames:
        from training.metrics import read_clip
        clips = [read_clip(c, 256, cfg.eval_frames).to(device) for c in sorted((datasets_root() / 'videos').glob('*.mp4'))]

    opt = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.9, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2 * cfg.lr, betas=(0.5, 0.999)) if D is not None else None
    state: Dict[str, Any] = {}
    if cfg.resume:
        state = torch.load(out / 'ckpt.pt', map_location='cpu')
        saved = {k: v for k, v in {**dataclasses.asdict(RefineConfig()), **state['config']}.items() if k not in RUNTIME}
        mine = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in RUNTIME}
        if state.get('format') != REFINE_FORMAT or saved != mine:
            bad = sorted(k for k in set(saved) | set(mine) if saved.get(k) != mine.get(k))
            raise SystemExit(f'{out / "ckpt.pt"} was made with other settings ({", ".join(bad)}); use the same, or another --out_dir')
        # the original as it was when the run began, even if models/<id>.onnx has been replaced since
        original.load_state_dict(state['original'])
        G.load_state_dict(state['G'])
        opt.load_state_dict(state['opt'])
        if D is not None:
            D.load_state_dict(state['D'])
            opt_d.load_state_dict(state['opt_d'])
        gen.set_state(state['rng'])
    G.to(device)
    step, wall_before = int(state.get('step', 0)), float(state.get('wall_time_s', 0.0))
    curve: List[Dict[str, float]] = list(state.get('curve', []))

    def progress() -> float:
        if cfg.steps:
            return step / cfg.steps
        return (wall_before + time.time() - t_start) / (cfg.time_budget_min * 60) if cfg.time_budget_min else 0.0

    def save(path: Path) -> None:
        tmp = path.with_suffix('.tmp')
        torch.save({'format': REFINE_FORMAT, 'config': dataclasses.asdict(cfg), 'source': source, 'step': step,
                    'G': G.state_dict(), 'original': original.state_dict(), 'opt': opt.state_dict(),
                    **({'D': D.state_dict(), 'opt_d': opt_d.state_dict()} if D is not None else {}), 'rng': gen.get_state(), 'curve': curve,
                    'wall_time_s': wall_before + time.time() - t_start, 'hardware': hardware_name(device, cfg.threads),
                    'torch_version': str(torch.__version__), 'n_images': len(images),
                    'command': 'python3 -m training.refine ' + shlex.join(sys.argv[1:] if argv is None else list(argv))}, tmp)
        tmp.replace(path)

    def evaluate() -> None:
        if x_eval is None and not clips:
            return
        curve.append({'step': step, 'wallS': round(wall_before + time.time() - t_start, 1),
                      **curve_row(G, original, x_eval, judge, clips)})
        print(f'eval {curve[-1]}', flush=True)
        write_curve(out / 'curve.csv', curve)

    if step == 0:
        evaluate()  # the original's own numbers, for the curve's first row
    log = (out / 'log.csv').open('a', newline='')
    writer = csv.writer(log)
    if step == 0:
        writer.writerow(['step', 'wall_s', 'lr', 'l1', 'stable', 'edge', 'gan_g', 'gan_d'])
    first = step
    while progress() < 1.0 and not (cfg.stop_after and step - first >= cfg.stop_after):
        idx = torch.randint(len(images), (cfg.batch_size,), generator=gen).tolist()
        x = torch.stack([augment(images[i], gen, cfg.crop_px, cfg.scale_min, cfg.scale_max, cfg.jitter) for i in idx]).to(device)
        noise = lambda: cfg.input_noise * torch.randn(x.shape, generator=gen).to(device)  # noqa: E731
        with torch.no_grad():
            y_t = original(x)  # [B, 3, crop, crop]: the look to keep
        y = G(x + noise())
        l1 = (y - y_t).abs().mean()
        stable = shift_stability_loss(G, x, y, noise(), cfg.stable_shift_px, gen) if cfg.lambda_stable else torch.zeros(())
        edge = edge_loss(x, y) if cfg.lambda_edge else torch.zeros(())
        gan_g = ((D(y) - 1) ** 2).mean() if D is not None else torch.zeros(())
        loss = cfg.lambda_l1 * l1 + cfg.lambda_stable * stable + cfg.lambda_edge * edge + cfg.lambda_gan * gan_g
        lr = lr_at(cfg, progress())
        for g in opt.param_groups:
            g['lr'] = lr
        for g in opt_d.param_groups if opt_d is not None else []:
            g['lr'] = 2 * lr  # the discriminator at twice the rate, as it started
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        gan_d = torch.zeros(())
        if D is not None:  # real target-domain crops -> 1, this step's translations -> 0
            real = sample_real(targets, gen, cfg.batch_size, cfg).to(device)
            gan_d = lsgan_d_loss(D(torch.cat([real, y.detach()])), len(real))
            opt_d.zero_grad(set_to_none=True)
            gan_d.backward()
            opt_d.step()
        step += 1
        if not math.isfinite(float(loss)):
            raise SystemExit(f'loss became {float(loss)} at step {step}')
        if step % cfg.log_every == 0:
            row = [step, round(wall_before + time.time() - t_start, 1), f'{lr_at(cfg, progress()):.2e}',
                   round(float(l1), 5), round(float(stable), 5), round(float(edge), 5), round(float(gan_g), 5), round(float(gan_d), 5)]
            writer.writerow(row)
            log.flush()
            print('step {} wall {}s lr {} l1 {} stable {} edge {} gan_g {} gan_d {}'.format(*row), flush=True)
        if cfg.eval_every and step % cfg.eval_every == 0:
            evaluate()
        if step % cfg.ckpt_every == 0:
            save(out / 'ckpt.pt')
    log.close()
    save(out / 'ckpt.pt')
    if progress() >= 1.0:
        if not curve or curve[-1]['step'] != step:
            evaluate()
        save(out / 'final.pt')
        print(f'done: {step} steps, {out / "final.pt"}', flush=True)
    return out


if __name__ == '__main__':
    main()
