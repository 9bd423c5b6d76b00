"""Export helpers for distilled students (training/distill.py checkpoints); export.py calls these.

A student whose weights were initialised from the teacher's (init 'prune') derives from the teacher,
so the teacher's BSD notice is written beside the model (models/<id>.LICENSE) and the manifest's
provenance names the teacher and that notice.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Tuple

import torch

from training.students import build_student, student_architecture
from training.teachers import TEACHERS, teacher_info, teacher_path

DISTILL_FORMAT = 'cyclestream-distill-v1'


def load_file(path: Path) -> dict:
    # our checkpoints hold tensors and plain values; torch 1.13's weights_only loader cannot read floats
    return torch.load(path, map_location='cpu', weights_only=int(torch.__version__.split('.')[0]) >= 2)


def has_format(path: Path, fmt: str) -> bool:
    """Whether the file at `path` is a checkpoint of format `fmt` (distill, refine)."""
    try:
        return load_file(path).get('format') == fmt
    except Exception:  # noqa: BLE001 - not ours to judge here; the CycleGAN loader reports bad files
        return False


def is_distilled(path: Path) -> bool:
    return has_format(path, DISTILL_FORMAT)


def load_student(path: Path) -> Tuple[torch.nn.Module, dict]:
    """(the student in eval mode on the CPU, the checkpoint with 'domains' = (from, to) added)."""
    state = load_file(path)
    G = build_student(state['config']['student'])
    G.load_state_dict(state['student'])
    G.eval()
    domains = tuple(TEACHERS[state['config']['teacher']]['domains'])
    state['domains'] = domains[::-1] if state['config'].get('reverse') else domains
    return G, state


def student_manifest(*, model_id: str, title: str, G: torch.nn.Module, state: dict, parity: float, exporter: str,
                     description: str, models_dir: Path) -> dict:
    from training.export import OPSET
    from training.manifest import manifest_head

    cfg = state['config']
    src, dst = state['domains']
    teacher = teacher_info(cfg['teacher'])
    # a student that went on from another run's checkpoint holds that run's weights; only 'scratch' is
    # free of the teacher's
    derived = cfg['init'] != 'scratch'
    if derived:  # the weights derive from the teacher's: its notice travels with them
        shutil.copyfile(teacher_path(cfg['teacher']).with_name('LICENSE'), Path(models_dir) / f'{model_id}.LICENSE')
        teacher['noticeFile'] = f'{model_id}.LICENSE'
    n = state.get('n_images', {})
    losses = f'L1 to the {"real input" if cfg.get("reverse") else "teacher"} x{cfg["lambda_l1"]:g}'
    if cfg['feat_taps']:
        losses += f' + feature loss at {cfg["feat_taps"]} block outputs x{cfg["lambda_feat"]:g}'
    if cfg['lambda_gan']:
        against = "the teacher's outputs" if cfg.get('gan_real') == 'teacher' else f'real {dst} images'
        losses += f' + LSGAN against {against} x{cfg["lambda_gan"]:g}'
    if cfg.get('lambda_cycle'):
        losses += f' + cycle through {teacher["name"]} on real {src} images x{cfg["lambda_cycle"]:g}'
    how = (f'Student generator trained by training/distill.py on pseudo-pairs (output of {teacher["name"]} -> its input)'
           if cfg.get('reverse') else f'Student generator distilled by training/distill.py from {teacher["name"]}')
    init = {'prune': 'initialised from slices of the teacher weights (BSD notice beside the model)', 'scratch': 'random init'}
    init_text = init.get(cfg['init'], f'went on from the student in {cfg["init"]}, whose weights derive from the teacher\'s '
                                      '(BSD notice beside the model)')
    desc = (f'{how}; {init_text}; '
            f'{losses}; batch {cfg["batch_size"]}, lr {cfg["lr"]:g}, input noise {cfg["input_noise"]:g}. '
            f'Exported by training/export.py ({exporter} exporter, opset {OPSET}); ONNX Runtime vs torch max abs diff {parity:.1e}.')
    if description:
        desc += ' ' + description
    return {
        **manifest_head(model_id, title, G, src, dst, student_architecture(cfg['student'])),
        'provenance': {
            'kind': 'distilled',
            'description': desc,
            'dataset': (f'{Path(cfg["dataset"]).name} trainA ({n.get("A")} images), {n.get("B")} of its trainB, '
                        f'{n.get("S")} {cfg["scenes"] or "scene"} images; augmented {cfg["crop_px"]} px crops'
                        + (f' of images scaled by {cfg["scale_min"]:g}-{cfg["scale_max"]:g}' if cfg.get('scale_min', 1.0) != 1.0 else '')),
            'iterations': int(state['step']),
            'cropPx': cfg['crop_px'],
            'hardware': state['hardware'],
            'wallTimeS': round(float(state['wall_time_s']), 1),
            'command': state['command'],
            'script': 'training/distill.py',
            'torchVersion': state['torch_version'],
            'teacher': teacher,
        },
    }
