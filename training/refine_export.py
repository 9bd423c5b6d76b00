"""Export helpers for refined models (training/refine.py checkpoints); export.py calls these.

A refined model is the shipped model it started from, trained a little more, so its manifest keeps that
model's provenance (kind, teacher and licence notice, dataset, commands) and adds the refinement to it.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Tuple

import torch

from training.distill_export import has_format, load_file

REFINE_FORMAT = 'cyclestream-refine-v1'


def is_refined(path: Path) -> bool:
    return has_format(path, REFINE_FORMAT)


def load_refined(path: Path) -> Tuple[torch.nn.Module, dict]:
    """(the refined generator in eval mode on the CPU, the checkpoint with 'domains' = (from, to) added)."""
    from training.onnx_weights import generator_for

    state = load_file(path)
    G = generator_for(state['source']['architecture'])
    G.load_state_dict(state['G'])
    d = state['source']['domains']
    state['domains'] = (d['from'], d['to'])
    return G.eval(), state


def refined_manifest(*, model_id: str, title: str, G: torch.nn.Module, state: dict, parity: float, exporter: str,
                     description: str, models_dir: Path, source_dir: Path) -> dict:
    from training.export import OPSET
    from training.manifest import manifest_head

    cfg, src = state['config'], state['source']
    old = dict(src['provenance'])
    teacher = dict(old['teacher']) if isinstance(old.get('teacher'), dict) else None
    if teacher and teacher.get('noticeFile') and teacher['noticeFile'] != f'{model_id}.LICENSE':
        # the weights still derive from the teacher's: its notice travels with the new id too
        shutil.copyfile(Path(source_dir) / teacher['noticeFile'], Path(models_dir) / f'{model_id}.LICENSE')
        teacher['noticeFile'] = f'{model_id}.LICENSE'
    terms = [f'L1 to its own output on the clean input x{cfg["lambda_l1"]:g}']
    if cfg['lambda_stable']:
        terms.append(f'shift stability (moved by up to {cfg["stable_shift_px"]:g} px, other noise) x{cfg["lambda_stable"]:g}')
    if cfg['lambda_edge']:
        terms.append(f'edge correlation x{cfg["lambda_edge"]:g}')
    desc = (f'{old.get("description", "")} Then refined by training/refine.py from models/{src["id"]}.onnx for '
            f'{state["step"]} steps: {" + ".join(terms)}; input noise {cfg["input_noise"]:g}, batch {cfg["batch_size"]}, '
            f'lr {cfg["lr"]:g}. Exported by training/export.py ({exporter} exporter, opset {OPSET}); '
            f'ONNX Runtime vs torch max abs diff {parity:.1e}.').strip()
    if description:
        desc += ' ' + description
    provenance = {
        **old,
        'description': desc,
        'dataset': f'{old.get("dataset", "")}; refined on {state["n_images"]} {state["domains"][0]} images of '
                   f'{Path(cfg["dataset"]).name}, {cfg["crop_px"]} px crops',
        'iterations': int(old.get('iterations') or 0) + int(state['step']),
        'hardware': f'{old.get("hardware", "")}; refinement: {state["hardware"]}',
        'wallTimeS': round(float(old.get('wallTimeS') or 0) + float(state['wall_time_s']), 1),
        'command': f'{old.get("command", "")} ; then {state["command"]}',
        'script': f'{old.get("script", "")}, then training/refine.py',
    }
    if teacher:
        provenance['teacher'] = teacher
    out = {**manifest_head(model_id, title, G, *state['domains'], src['architecture']), 'provenance': provenance}
    for key in ('group', 'summary', 'cpuShortSidePx'):  # editorial and measured fields of the model it refines
        if key in src:
            out[key] = src[key]
    return out
