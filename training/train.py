"""Train a CycleGAN: two generators (A->B, B->A) and two PatchGAN discriminators.

    npm run train -- --dataset horse2zebra --out_dir runs/h2z --time_budget_min 30
    python3 training/train.py --help            # every knob is a field of config.Config

Losses as in the paper: LSGAN adversarial, cycle L1 (lambda 10), identity L1 (0.5 lambda), a pool of
50 generated images for the discriminators, Adam(2e-4, beta1 0.5), constant LR for the first half of
the run then linear decay to 0. Writes to out_dir:
    ckpt.pt       everything needed to resume (--resume continues at the same step and LR)
    final.pt      config + both generators at the last step (for export.py / evaluate.py)
    losses.csv    mean losses every log_every iterations
    samples/      a PNG grid per epoch: rows of real | translated | reconstructed
"""
from __future__ import annotations

import csv
import math
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from tqdm import tqdm

from training import config as C
from training.budget import WallClockBudget
from training.checkpoint import CKPT_FORMAT, ImagePool, load_checkpoint
from training.data import UnpairedBatches, open_split, resolve_dataset, save_grid
from training.losses import edge_loss, lsgan_d_loss, stability_loss
from training.models import build_discriminator, build_generator, count_macs, count_params, init_weights
from training.runtime import hardware_name, pick_device

def lr_at(cfg: C.Config, step: int, total: Optional[int]) -> float:
    """Constant, then linear decay to 0 at step == total."""
    if not total:
        return cfg.lr
    start = cfg.decay_start * total
    if step < start:
        return cfg.lr
    return cfg.lr * max(0.0, (total - step) / max(1e-9, total - start))


def train(cfg: C.Config, command: Optional[str] = None) -> dict:
    t_start = time.time()
    cfg = C.with_domains(cfg)
    out_dir = Path(cfg.out_dir)
    print(f'cyclestream train.py (torch {torch.__version__})\n{C.describe(cfg)}', flush=True)

    # ---- device ---------------------------------------------------------------------------
    device = pick_device(cfg.device)
    cuda = device.type == 'cuda'
    if cuda:
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels
    else:
        torch.set_num_threads(cfg.threads)  # Debian's torch starts with 1 thread
    amp = cuda and cfg.amp
    mem_fmt = torch.channels_last if (cuda and cfg.channels_last) else torch.contiguous_format
    torch.manual_seed(cfg.seed)

    # ---- data -----------------------------------------------------------------------------
    root = resolve_dataset(cfg.dataset)
    imgs_a, imgs_b = open_split(root, 'train', cfg.load_px, cfg.crop_px, cfg.max_images)
    batch_gen = torch.Generator().manual_seed(cfg.seed + 1)
    batches = UnpairedBatches(imgs_a, imgs_b, cfg.batch_size, cfg.crop_px, cfg.flip, device, cfg.preload, batch_gen)
    iters_per_epoch = math.ceil(max(len(imgs_a), len(imgs_b)) / cfg.batch_size)
    sample_a, sample_b = batches.fixed(cfg.n_samples)
    print(f'data: {root} trainA {len(imgs_a)} / trainB {len(imgs_b)} images, {iters_per_epoch} it/epoch, '
          f'preload={cfg.preload}, device={device}', flush=True)

    # ---- models and optimisers --------------------------------------------------------------
    G_AB, G_BA = build_generator(cfg), build_generator(cfg)  # A->B, B->A
    D_A, D_B = build_discriminator(cfg), build_discriminator(cfg)  # real A vs fake A, real B vs fake B
    for net in (G_AB, G_BA, D_A, D_B):
        init_weights(net)
    if cfg.init_from:
        start = load_checkpoint(Path(cfg.init_from))
        arch = ('gen', 'ngf', 'n_blocks')
        if any(start['config'].get(k) != getattr(cfg, k) for k in arch):
            raise C.ConfigMismatchError(f'{cfg.init_from}: generator {[start["config"].get(k) for k in arch]} '
                                        f'differs from the requested {[getattr(cfg, k) for k in arch]}')
        G_AB.load_state_dict(start['G_AB'])
        G_BA.load_state_dict(start['G_BA'])
        print(f'generators initialised from {cfg.init_from} (step {start["step"]})', flush=True)
    print(f'generator {cfg.gen} ngf {cfg.ngf} blocks {cfg.n_blocks}: {count_params(G_AB):,} params, '
          f'{count_macs(G_AB) / 1e9:.3f} G MACs at 256x256; discriminator {count_params(D_A):,} params', flush=True)
    for net in (G_AB, G_BA, D_A, D_B):
        net.to(device=device, memory_format=mem_fmt)
    opt_G = torch.optim.Adam(list(G_AB.parameters()) + list(G_BA.parameters()), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_D = torch.optim.Adam(list(D_A.parameters()) + list(D_B.parameters()), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    pool_gen = torch.Generator().manual_seed(cfg.seed + 2)
    pool_A, pool_B = ImagePool(cfg.pool_size, pool_gen), ImagePool(cfg.pool_size, pool_gen)

    # ---- resume -----------------------------------------------------------------------------
    step, total, wall_before = 0, None, 0.0
    ckpt_path = out_dir / 'ckpt.pt'
    if cfg.resume:
        state = load_checkpoint(ckpt_path)
        C.check_resume(state['config'], cfg, str(ckpt_path))
        for name, net in (('G_AB', G_AB), ('G_BA', G_BA), ('D_A', D_A), ('D_B', D_B)):
            net.load_state_dict(state[name])
        opt_G.load_state_dict(state['opt_G'])
        opt_D.load_state_dict(state['opt_D'])
        pool_A.images = [t.to(device) for t in state['pool_A']]
        pool_B.images = [t.to(device) for t in state['pool_B']]
        batch_gen.set_state(state['rng_batches'])
        pool_gen.set_state(state['rng_pool'])
        torch.set_rng_state(state['rng_torch'])
        step, total, wall_before = state['step'], state['total_iters'], state['wall_time_s']
        print(f'resumed {ckpt_path} at step {step} of {total}, lr {lr_at(cfg, step, total):.3e}', flush=True)
    elif ckpt_path.exists():
        raise C.ConfigMismatchError(f'{ckpt_path} exists: pass --resume to continue it, or choose another --out_dir')
    elif cfg.time_budget_min <= 0:
        total = cfg.iters if cfg.iters > 0 else max(1, round(cfg.epochs * iters_per_epoch))
    out_dir.mkdir(parents=True, exist_ok=True)

    # ---- optional torch.compile (CUDA, torch 2.x), eager fallback -----------------------------
    fwd = {'G_AB': G_AB, 'G_BA': G_BA, 'D_A': D_A, 'D_B': D_B}
    compiled = False
    if cfg.compile and cuda and hasattr(torch, 'compile'):
        fwd = {k: torch.compile(v) for k, v in fwd.items()}
        compiled = True

    hardware = hardware_name(device, cfg.threads)
    command = command or 'train(' + ', '.join(f'{k}={v!r}' for k, v in C.to_dict(cfg).items()) + ')'

    def save(path: Path, full: bool) -> None:
        state = {
            'format': CKPT_FORMAT, 'config': C.to_dict(cfg), 'step': step, 'total_iters': total,
            'iters_per_epoch': iters_per_epoch, 'epochs_done': step * cfg.batch_size / max(len(imgs_a), len(imgs_b)),
            'n_images': [len(imgs_a), len(imgs_b)], 'wall_time_s': wall_before + time.time() - t_start,
            'hardware': hardware, 'torch_version': str(torch.__version__), 'command': command,
            'G_AB': G_AB.state_dict(), 'G_BA': G_BA.state_dict(),
        }
        if full:
            state.update({
                'D_A': D_A.state_dict(), 'D_B': D_B.state_dict(),
                'opt_G': opt_G.state_dict(), 'opt_D': opt_D.state_dict(),
                'pool_A': [t.cpu() for t in pool_A.images], 'pool_B': [t.cpu() for t in pool_B.images],
                'rng_batches': batch_gen.get_state(), 'rng_pool': pool_gen.get_state(), 'rng_torch': torch.get_rng_state(),
            })
        tmp = path.with_name(path.name + '.tmp')
        torch.save(state, tmp)
        os.replace(tmp, path)  # a run killed mid-save keeps its previous checkpoint

    def sample_grid(name: str) -> None:
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            for net in (G_AB, G_BA):
                net.eval()  # no-op for our layers, but keeps the habit honest
            fb = G_AB(sample_a); ra = G_BA(fb)
            fa = G_BA(sample_b); rb = G_AB(fa)
            for net in (G_AB, G_BA):
                net.train()
        rows = [[sample_a[i], fb[i], ra[i]] for i in range(len(sample_a))]
        rows += [[sample_b[i], fa[i], rb[i]] for i in range(len(sample_b))]
        save_grid(rows, out_dir / 'samples' / f'{name}.png')

    stable = cfg.lambda_stable > 0

    def train_step(real_A: torch.Tensor, real_B: torch.Tensor) -> torch.Tensor:
        B = real_A.shape[0]
        # -- generators: fool both discriminators, reconstruct both ways, keep targets unchanged.
        for net in (D_A, D_B):
            net.requires_grad_(False)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            # one call per generator for the translation and the identity pass (InstanceNorm is
            # per image, so batching them together changes nothing but the launch count)
            if stable:
                noisy_A = real_A + cfg.stable_noise * torch.randn_like(real_A)
                noisy_B = real_B + cfg.stable_noise * torch.randn_like(real_B)
                fake_B, idt_B, fake_B_n = fwd['G_AB'](torch.cat([real_A, real_B, noisy_A])).split(B)
                fake_A, idt_A, fake_A_n = fwd['G_BA'](torch.cat([real_B, real_A, noisy_B])).split(B)
            else:
                fake_B, idt_B = fwd['G_AB'](torch.cat([real_A, real_B])).split(B)  # G_AB(A), G_AB(B)
                fake_A, idt_A = fwd['G_BA'](torch.cat([real_B, real_A])).split(B)  # G_BA(B), G_BA(A)
            rec_A = fwd['G_BA'](fake_B)  # A -> B -> A
            rec_B = fwd['G_AB'](fake_A)  # B -> A -> B
            pred_fake_B = fwd['D_B'](fake_B)
            pred_fake_A = fwd['D_A'](fake_A)
        adv_AB = F.mse_loss(pred_fake_B.float(), torch.ones_like(pred_fake_B, dtype=torch.float32))
        adv_BA = F.mse_loss(pred_fake_A.float(), torch.ones_like(pred_fake_A, dtype=torch.float32))
        cyc_A = F.l1_loss(rec_A.float(), real_A)
        cyc_B = F.l1_loss(rec_B.float(), real_B)
        idt_A_l = F.l1_loss(idt_A.float(), real_A)
        idt_B_l = F.l1_loss(idt_B.float(), real_B)
        lam, lam_idt = cfg.lambda_cycle, cfg.lambda_cycle * cfg.lambda_identity
        loss_G = adv_AB + adv_BA + lam * (cyc_A + cyc_B) + lam_idt * (idt_A_l + idt_B_l)
        stab = torch.zeros((), device=real_A.device)
        if stable:
            stab = stability_loss(fake_B, fake_B_n) + stability_loss(fake_A, fake_A_n)
            loss_G = loss_G + cfg.lambda_stable * stab
        edges = torch.zeros((), device=real_A.device)
        if cfg.lambda_edge > 0:
            edges = edge_loss(real_A, fake_B) + edge_loss(real_B, fake_A)
            loss_G = loss_G + cfg.lambda_edge * edges
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        opt_G.step()

        # -- discriminators: real -> 1, pooled fakes -> 0 (LSGAN), halved as in the paper.
        for net in (D_A, D_B):
            net.requires_grad_(True)
        fake_B_pool = pool_B.query(fake_B).to(memory_format=mem_fmt)
        fake_A_pool = pool_A.query(fake_A).to(memory_format=mem_fmt)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            pred_B = fwd['D_B'](torch.cat([real_B, fake_B_pool])).float()
            pred_A = fwd['D_A'](torch.cat([real_A, fake_A_pool])).float()
        loss_D_B, loss_D_A = lsgan_d_loss(pred_B, B), lsgan_d_loss(pred_A, B)
        opt_D.zero_grad(set_to_none=True)
        (loss_D_A + loss_D_B).backward()
        opt_D.step()
        return torch.stack([loss_G, adv_AB, adv_BA, cyc_A, cyc_B, idt_A_l, idt_B_l, stab, edges, loss_D_A, loss_D_B]).detach()

    # ---- logging ----------------------------------------------------------------------------
    columns = ['step', 'epoch', 'lr', 'loss_G', 'G_adv_AB', 'G_adv_BA', 'cycle_A', 'cycle_B', 'idt_A', 'idt_B',
               'stable', 'edges', 'D_A', 'D_B', 'it_per_s', 'elapsed_s']
    csv_path = out_dir / 'losses.csv'
    new_csv = not csv_path.exists() or not cfg.resume
    csv_file = open(csv_path, 'a' if cfg.resume else 'w', newline='')
    writer = csv.writer(csv_file)
    if new_csv:
        writer.writerow(columns)
    loss_sum, loss_n = None, 0
    t_log, step_log = time.time(), step

    start_step = step
    bar = tqdm(total=total or 0, initial=step, disable=not cfg.progress, dynamic_ncols=True,
               mininterval=1.0 if sys.stderr.isatty() else 30.0, desc=out_dir.name)

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    budget = WallClockBudget(cfg, step, t_start, wall_before, max(len(imgs_a), len(imgs_b)) / cfg.batch_size, sync)

    # ---- the loop ---------------------------------------------------------------------------
    stopped_early = False
    try:
        while total is None or step < total:
            lr = lr_at(cfg, step, total)
            for opt in (opt_G, opt_D):
                for group in opt.param_groups:
                    group['lr'] = lr
            real_A, real_B = batches.next()
            real_A = real_A.contiguous(memory_format=mem_fmt)
            real_B = real_B.contiguous(memory_format=mem_fmt)
            try:
                losses = train_step(real_A, real_B)
            except Exception as e:  # noqa: BLE001 - any compile failure falls back to eager
                if not compiled or step - start_step > 2:
                    raise
                print(f'torch.compile failed ({type(e).__name__}: {e}); continuing in eager mode', flush=True)
                fwd = {'G_AB': G_AB, 'G_BA': G_BA, 'D_A': D_A, 'D_B': D_B}
                compiled = False
                losses = train_step(real_A, real_B)
            step += 1
            bar.update(1)
            loss_sum = losses if loss_sum is None else loss_sum + losses
            loss_n += 1

            if budget.active:
                new_total, message = budget.update(step, total)
                if message:
                    print('\n' + message, flush=True)
                if new_total != total:
                    total = bar.total = new_total
                    bar.refresh()

            if step % cfg.log_every == 0 or step == total:
                means = (loss_sum / loss_n).tolist()
                now = time.time()
                rate = (step - step_log) / max(1e-9, now - t_log)
                epoch = step * cfg.batch_size / max(len(imgs_a), len(imgs_b))
                writer.writerow([step, f'{epoch:.3f}', f'{lr:.3e}'] + [f'{v:.5f}' for v in means]
                                + [f'{rate:.3f}', f'{wall_before + now - t_start:.1f}'])
                csv_file.flush()
                bar.set_postfix(G=f'{means[0]:.3f}', cyc=f'{means[3] + means[4]:.3f}', D=f'{means[8] + means[9]:.3f}',
                                lr=f'{lr:.1e}', refresh=False)
                loss_sum, loss_n, t_log, step_log = None, 0, now, step

            if step % iters_per_epoch == 0 and step != total:
                epoch = step // iters_per_epoch
                if epoch % cfg.sample_every_epochs == 0:
                    sample_grid(f'epoch_{epoch:03d}')
                if epoch % cfg.ckpt_every_epochs == 0:
                    save(ckpt_path, full=True)
            if cfg.stop_after and step - start_step >= cfg.stop_after and step != total:
                stopped_early = True
                break
    except KeyboardInterrupt:
        # e.g. `timeout -s INT`: keep what was learnt; a second SIGINT (a wrapper forwarding the
        # terminal's Ctrl-C) must not cut the save short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print(f'\ninterrupted at step {step}; saving {ckpt_path}', flush=True)
        save(ckpt_path, full=True)
        save(out_dir / 'final.pt', full=False)
        raise
    finally:
        bar.close()
        csv_file.close()

    sample_grid('final' if not stopped_early else f'step_{step:06d}')
    save(ckpt_path, full=True)
    if not stopped_early:
        save(out_dir / 'final.pt', full=False)
    wall = wall_before + time.time() - t_start
    summary = {'step': step, 'total_iters': total, 'lr': lr_at(cfg, step, total), 'wall_time_s': round(wall, 1),
               'epochs_done': step * cfg.batch_size / max(len(imgs_a), len(imgs_b)), 'out_dir': str(out_dir)}
    print(f'done: {summary}', flush=True)
    return summary


if __name__ == '__main__':
    cfg = C.parse_args()
    cmd = shlex.join([os.path.basename(sys.executable), '-m', 'training.train'] + sys.argv[1:])
    try:
        train(cfg, command=cmd)
    except KeyboardInterrupt:
        sys.exit(130)  # the checkpoint is saved; no traceback needed
