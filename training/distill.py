"""Distillation: a small student generator learns to reproduce a published teacher (training/teachers.py).

    npm run distill -- --student rt --out_dir runs/distill-rt --time_budget_min 90 --threads 1   # CPU
    npm run distill -- --student hq --device cuda --cache_size 0 --batch_size 32                 # GPU
    npm run distill -- --out_dir runs/distill-rt --resume

It is supervised learning, so it needs far fewer steps than CycleGAN. Each step:
- draws augmented inputs (random scale and crop, flips, colour jitter) from horses, plus some zebras and
  Yosemite scenes so that the student learns to leave backgrounds and striped animals alone;
- the teacher's output and block features come from exactly that input (InstanceNorm makes the output
  depend on the whole input, so targets computed on another crop would be wrong);
- the student sees the input with a little noise, so that it learns to ignore sensor noise, which
  keeps its output stable from frame to frame;
- loss = L1 to the teacher's output + feature loss (MSE between 1x1-adapted student block outputs and
  the teacher's at the same depth) + optionally an LSGAN loss against real zebras.

CPU mode (cache_size > 0): the teacher's outputs and features are computed once for `cache_size`
augmented inputs into runs/distill-cache/ (not committed) and training reads them back. CUDA mode
(cache_size 0): the teacher runs on the fly, with bf16 autocast and channels_last.

Every `eval_every` steps the student translates the first `eval_images` test horses and the ImageNet
judge (training/judge.py) scores them; the curve goes to <out_dir>/curve.csv.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch
from torch import nn

from training import config as C
from training.data import REPO_ROOT
from training.distill_config import RUNTIME, DistillConfig
from training.distill_data import TeacherCache, load_pool, sample_real
from training.distill_eval import eval_inputs, score, write_curve
from training.distill_export import DISTILL_FORMAT
from training.losses import Adapters, feature_loss, shift_stability_loss
from training.onnx_weights import OnnxWeightsError, load_onnx_weights
from training.models import PatchDiscriminator, count_macs, count_params
from training.students import build_student, feature_taps, matching_taps, prune_from_teacher
from training.runtime import hardware_name, pick_device
from training.teachers import load_teacher



def lr_at(cfg: DistillConfig, progress: float) -> float:
    """Constant, then linear decay to 5% over the last `decay_fraction` of the run."""
    start = 1.0 - cfg.decay_fraction
    if progress <= start or cfg.decay_fraction <= 0:
        return cfg.lr
    return cfg.lr * max(0.05, 1.0 - 0.95 * (progress - start) / cfg.decay_fraction)


def init_from_checkpoint(path: str, student: nn.Module, adapters: nn.Module) -> None:
    """Start from another distillation run's student (and its adapters, where they fit), or a shipped ONNX."""
    if path.endswith('.onnx'):
        try:
            load_onnx_weights(student, Path(path) if Path(path).is_absolute() else REPO_ROOT / path)
        except (OSError, OnnxWeightsError) as e:
            raise SystemExit(f'--init {path}: {e}')
        return
    state = torch.load(path, map_location='cpu')
    if state.get('format') != DISTILL_FORMAT:
        raise SystemExit(f'--init {path}: not a distillation checkpoint (or use prune / scratch)')
    student.load_state_dict(state['student'])
    with contextlib.suppress(RuntimeError):  # other feature taps: the adapters start fresh
        adapters.load_state_dict(state['adapters'])


def main(argv: Optional[Sequence[str]] = None) -> Path:
    p = argparse.ArgumentParser(description='Distil a student generator from a teacher (see training/distill.py).')
    C.add_arguments(p, DistillConfig)
    cfg: DistillConfig = C.from_args(p.parse_args(argv), cls=DistillConfig)
    t_start = time.time()
    out = Path(cfg.out_dir)
    if not out.is_absolute():
        out = REPO_ROOT / out
    out.mkdir(parents=True, exist_ok=True)
    device = pick_device(cfg.device)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)  # every random draw of the data; saved for resume
    print(C.describe(cfg), flush=True)

    # --- models ---
    teacher = load_teacher(cfg.teacher, str(device))
    student = build_student(cfg.student)
    if cfg.reverse and cfg.feat_taps:
        raise SystemExit('--reverse learns the teacher\'s inverse, which has no features to match: add --feat_taps 0')
    if cfg.gan_real not in ('data', 'teacher') or (cfg.gan_real == 'teacher' and cfg.reverse):
        raise SystemExit("--gan_real is 'data' or 'teacher' (not with --reverse, where no teacher draws the output)")
    if cfg.lambda_cycle and not cfg.reverse:
        raise SystemExit('--lambda_cycle sends the student\'s output back through the teacher: only with --reverse')
    if cfg.lambda_stable and not (cfg.input_noise or cfg.stable_shift_px):
        raise SystemExit('--lambda_stable compares the output for a moved or noisier input: give --stable_shift_px '
                         'or --input_noise above 0')
    if not 0 < cfg.scale_min <= cfg.scale_max:
        raise SystemExit('--scale_min must be above 0 and at most --scale_max')
    s_taps = feature_taps(student, cfg.feat_taps) if cfg.feat_taps else []
    t_taps = matching_taps(student, teacher, s_taps)
    c_s, c_t = student.model[student.first_block - 3].out_channels, teacher.model[teacher.first_block - 3].out_channels
    adapters = Adapters(c_s, c_t, len(s_taps))
    D = PatchDiscriminator(cfg.ndf, 3) if cfg.lambda_gan > 0 else None

    # --- data ---
    pool = load_pool(cfg)  # uint8 images [N, 3, H, W] with their source ('A', 'B', 'S')
    x_eval = eval_inputs(cfg.dataset, cfg.reverse, cfg.eval_images) if cfg.eval_images else None
    with torch.no_grad():
        t_eval = torch.cat([teacher(x_eval[i:i + 8].to(device)).float().cpu()
                            for i in range(0, len(x_eval), 8)]) if x_eval is not None and not cfg.reverse else None

    state: Dict[str, Any] = {}
    ckpt = out / 'ckpt.pt'
    if cfg.resume:
        state = torch.load(ckpt, map_location='cpu')
        if state.get('format') != DISTILL_FORMAT:
            raise SystemExit(f'{ckpt} is not a distillation checkpoint')
        # a setting added since that checkpoint was made had its default then
        saved = {**dataclasses.asdict(DistillConfig()), **state['config']}
        saved = {k: v for k, v in saved.items() if k not in RUNTIME}
        mine = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in RUNTIME}
        if saved != mine:
            bad = sorted(k for k in set(saved) | set(mine) if saved.get(k) != mine.get(k))
            raise SystemExit(f'{ckpt} was made with other settings ({", ".join(bad)}); use the same, or another --out_dir')
        student.load_state_dict(state['student'])
        adapters.load_state_dict(state['adapters'])
        if D is not None:
            D.load_state_dict(state['D'])
        gen.set_state(state['rng'])
    elif cfg.init == 'prune':
        prune_from_teacher(teacher.cpu(), student, pool.sample_clean(gen, 8, cfg)[0])
        teacher.to(device)
    elif cfg.init != 'scratch':
        init_from_checkpoint(cfg.init, student, adapters)
    student.to(device).train()
    adapters.to(device)
    if device.type == 'cuda' and cfg.channels_last:
        student.to(memory_format=torch.channels_last)
        teacher.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(list(student.parameters()) + list(adapters.parameters()), lr=cfg.lr, betas=(0.9, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.999)) if D is not None else None
    if D is not None:
        D.to(device)
    if state:
        opt.load_state_dict(state['opt'])
        if opt_d is not None:
            opt_d.load_state_dict(state['opt_d'])

    cache_root = Path(cfg.cache_dir) if Path(cfg.cache_dir).is_absolute() else REPO_ROOT / cfg.cache_dir
    cache = TeacherCache.open_or_build(cache_root, cfg, teacher, pool, t_taps) \
        if cfg.cache_size > 0 and device.type == 'cpu' else None

    step = int(state.get('step', 0))
    wall_before = float(state.get('wall_time_s', 0.0))
    curve: List[Dict[str, float]] = list(state.get('curve', []))
    amp = device.type == 'cuda' and cfg.amp

    def autocast():  # torch 1.13 CPU builds refuse even a disabled CUDA autocast
        return torch.autocast('cuda', torch.bfloat16) if amp else contextlib.nullcontext()
    print(f'student {cfg.student}: {count_params(student):,} params, {count_macs(student) / 1e9:.3f} G MACs at 256x256; '
          f'teacher taps {t_taps} <- student taps {s_taps}; {"cache " + str(cache.size) if cache else "teacher on the fly"}; '
          f'device {device}', flush=True)

    def progress() -> float:
        if cfg.steps:
            return step / cfg.steps
        if cfg.time_budget_min:
            return (wall_before + time.time() - t_start) / (cfg.time_budget_min * 60)
        return 0.0

    def save(path: Path) -> None:
        tmp = path.with_suffix('.tmp')
        torch.save({
            'format': DISTILL_FORMAT, 'config': dataclasses.asdict(cfg), 'step': step,
            'student': student.state_dict(), 'adapters': adapters.state_dict(), 'opt': opt.state_dict(),
            'D': D.state_dict() if D is not None else None, 'opt_d': opt_d.state_dict() if opt_d is not None else None,
            'rng': gen.get_state(), 'curve': curve, 'wall_time_s': wall_before + time.time() - t_start,
            'hardware': hardware_name(device, cfg.threads), 'torch_version': str(torch.__version__),
            'command': 'python3 -m training.distill ' + shlex.join(sys.argv[1:] if argv is None else list(argv)),
            'n_images': pool.counts(),
        }, tmp)
        tmp.replace(path)

    log = (out / 'log.csv').open('a', newline='')
    writer = csv.writer(log)
    if step == 0:
        writer.writerow(['step', 'wall_s', 'lr', 'l1', 'feat', 'gan_g', 'gan_d', 'stable', 'cycle'])
    first_step = step
    while progress() < 1.0 and not (cfg.stop_after and step - first_step >= cfg.stop_after):
        # [B, 3, H, W] clean input, teacher output, teacher features at t_taps
        if cache is not None:
            x, y_t, f_t = cache.batch(gen, cfg.batch_size)
        else:
            x, _ = pool.sample(gen, cfg.batch_size, cfg, device)
            with torch.no_grad(), autocast():
                feats = teacher.forward_features(x, t_taps)
            y_t, f_t = feats[-1].float(), [feats[t].float() for t in t_taps]
            if cfg.reverse:
                x, y_t = y_t, x
        x, y_t = x.to(device), y_t.to(device)
        f_t = [f.to(device).float() for f in f_t]
        x_s = x + cfg.input_noise * torch.randn(x.shape, generator=gen).to(device) if cfg.input_noise else x
        for g in opt.param_groups:
            g['lr'] = lr_at(cfg, progress())

        with autocast():
            feats_s = student.forward_features(x_s, s_taps)
            y_s = feats_s[-1].float()
            l1 = (y_s - y_t).abs().mean()
            feat = feature_loss(adapters([feats_s[t] for t in s_taps]), f_t) if s_taps else torch.zeros((), device=device)
            stable = shift_stability_loss(student, x, y_s, cfg.input_noise * torch.randn(x.shape, generator=gen).to(device),
                                          cfg.stable_shift_px, gen) if cfg.lambda_stable else torch.zeros((), device=device)
            # forward: D judges the student's outputs on this batch; reverse: its outputs on real inputs
            real_in = sample_real(pool.gan_inputs, gen, cfg.batch_size, cfg).to(device) \
                if cfg.reverse and (D is not None or cfg.lambda_cycle) else None
            fake = student(real_in) if real_in is not None else y_s if D is not None else None
            gan_g = ((D(fake) - 1) ** 2).mean() if D is not None else torch.zeros((), device=device)
            cycle = (teacher(fake).float() - real_in).abs().mean() if cfg.lambda_cycle else torch.zeros((), device=device)
        loss = (cfg.lambda_l1 * l1 + cfg.lambda_feat * feat + cfg.lambda_gan * gan_g + cfg.lambda_stable * stable
                + cfg.lambda_cycle * cycle)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

        gan_d = torch.zeros(())
        if D is not None:
            real = y_t if cfg.gan_real == 'teacher' else sample_real(pool.target, gen, cfg.batch_size, cfg).to(device)
            with autocast():
                gan_d = 0.5 * (((D(real) - 1) ** 2).mean() + (D(fake.detach()) ** 2).mean())
            opt_d.zero_grad(set_to_none=True)
            gan_d.backward()
            opt_d.step()
        step += 1

        if step % cfg.log_every == 0:
            row = [step, round(wall_before + time.time() - t_start, 1), f'{lr_at(cfg, progress()):.2e}',
                   round(float(l1), 5), round(float(feat), 5), round(float(gan_g), 5), round(float(gan_d), 5),
                   round(float(stable), 5), round(float(cycle), 5)]
            writer.writerow(row)
            log.flush()
            print('step {} wall {}s lr {} l1 {} feat {} gan_g {} gan_d {} stable {} cycle {}'.format(*row), flush=True)
        if x_eval is not None and cfg.eval_every and step % cfg.eval_every == 0:
            curve.append({'step': step, 'wallS': round(wall_before + time.time() - t_start, 1),
                          **score(student, t_eval, x_eval, device, cfg.eval_px)})
            print(f'eval {curve[-1]}', flush=True)
            write_curve(out / 'curve.csv', curve)
        if step % cfg.ckpt_every == 0:
            save(ckpt)
        if not math.isfinite(float(loss)):
            raise SystemExit(f'loss became {float(loss)} at step {step}')

    log.close()
    save(ckpt)
    if progress() >= 1.0:
        if x_eval is not None and (not curve or curve[-1]['step'] != step):
            curve.append({'step': step, 'wallS': round(wall_before + time.time() - t_start, 1),
                          **score(student, t_eval, x_eval, device, cfg.eval_px)})
            write_curve(out / 'curve.csv', curve)
            print(f'eval {curve[-1]}', flush=True)
        save(out / 'final.pt')
        print(f'done: {step} steps, {out / "final.pt"}', flush=True)
    return out


if __name__ == '__main__':
    main()
