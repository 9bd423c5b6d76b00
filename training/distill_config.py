"""distill.py's settings: one dataclass, saved in every checkpoint; a resumed run must ask for the same
ones, except the RUNTIME fields (where and how fast it runs, how often it reports)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DistillConfig:
    # --- what learns from what ---
    teacher: str = 'horse2zebra'
    student: str = 'rt'  # training/students.py STUDENTS
    # 'prune': slices of the teacher's weights; 'scratch': random; else a distillation checkpoint (.pt)
    # of the same student to go on from, e.g. to specialise a model for a smaller processing size, or
    # a shipped model (.onnx) of that student when its checkpoint is gone (runs/ is not committed)
    init: str = 'prune'
    # Learn the reverse direction from pseudo-pairs (teacher(x) -> x), for a direction with no teacher;
    # use with --feat_taps 0 --extra_b 0 (teacher(zebra) -> zebra pairs would teach it to keep stripes)
    reverse: bool = False
    # --- data ---
    dataset: str = 'horse2zebra'  # trainA = the teacher's input domain
    extra_b: int = 200  # trainB images (already the target: the teacher should leave them alone)
    scenes: str = 'summer2winter_yosemite'  # landscapes without animals ('' = none)
    extra_scenes: int = 200
    horse_share: float = 0.7  # fraction of samples drawn from trainA
    crop_px: int = 256
    # resize the 256 px pool image by a random factor in [scale_min, scale_max] before the crop. Below 1,
    # with a smaller crop, the student sees whole scenes as a live session at a small processing size
    # does (e.g. --crop_px 160 --scale_min 0.625 --scale_max 0.8), and the teacher draws them at that size
    scale_min: float = 1.0
    scale_max: float = 1.3
    jitter: float = 0.1  # brightness / contrast / saturation, each by a factor in [1-j, 1+j]
    input_noise: float = 0.02  # std of the Gaussian noise on the student's input ([-1, 1] units)
    # --- losses ---
    lambda_l1: float = 1.0
    lambda_feat: float = 1.0
    feat_taps: int = 3  # student block outputs matched to the teacher's (0 = no feature loss)
    lambda_gan: float = 0.0  # LSGAN weight (0 = off)
    # L1 between the student's output for a noisy input and, for the same input moved by up to
    # stable_shift_px (sub-pixel) with other noise, its output moved back (0 = off): L1 to the clean target
    # leaves noise-following detail below its own error, and that detail shimmers on a camera
    lambda_stable: float = 0.0
    stable_shift_px: float = 1.0
    # what D learns as real: 'data', real images of the output domain; 'teacher', the teacher's output
    # on the same batch, so that D learns exactly what L1 leaves out (the crispness of the stripes)
    # rather than how real zebras' savannas differ from horses' fields
    gan_real: str = 'data'
    # reverse only: L1 between the teacher's output for the student's horse (drawn from a real zebra) and
    # that zebra. The horse must be one the teacher would stripe back into the same zebra, so pose and scene
    # stay; the teacher is frozen, so stripes can't be hidden in the horse for it to decode (0 = off)
    lambda_cycle: float = 0.0
    ndf: int = 32
    # --- optimisation ---
    batch_size: int = 4
    lr: float = 2e-4
    steps: int = 0  # total steps (0: run until the time budget)
    time_budget_min: float = 0.0
    decay_fraction: float = 0.25  # the LR decays linearly to 5% over the last part of the run
    seed: int = 0
    # --- runtime ---
    cache_size: int = 1600  # CPU: precomputed teacher samples (0 = the teacher runs every step)
    cache_dir: str = 'runs/distill-cache'  # shared by runs with the same data settings; not committed
    device: str = 'auto'
    threads: int = 1
    amp: bool = True  # bf16 autocast on CUDA
    channels_last: bool = True  # CUDA only
    out_dir: str = 'runs/distill-rt'
    resume: bool = False
    stop_after: int = 0  # stop (with a checkpoint) after this many steps of this invocation
    log_every: int = 25
    ckpt_every: int = 200
    eval_every: int = 400
    eval_images: int = 40  # first N test horses scored by the ImageNet judge (0 = no judge)
    eval_px: int = 0  # score at this processing short side, scaled back as on the live path (0 = 256)


RUNTIME = {'eval_px', 'cache_dir', 'device', 'threads', 'amp', 'channels_last', 'out_dir', 'resume', 'stop_after', 'log_every',
           'ckpt_every', 'eval_every', 'eval_images', 'time_budget_min', 'steps'}
