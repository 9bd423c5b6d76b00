"""The manifest an exported generator carries (server/inference/manifest.ts): the fields every model has,
a CycleGAN (train.py) checkpoint's provenance, and what a re-export keeps of the manifest it replaces.
distill_export.py and refine_export.py write the provenance of their own kinds of checkpoint.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch

from training import config as C
from training.models import architecture_name, count_macs, count_params

INPUT_NAME, OUTPUT_NAME = 'input', 'output'


def manifest_head(model_id: str, title: str, G: torch.nn.Module, src: str, dst: str, architecture: str) -> dict:
    """The manifest fields every exported generator has (server/inference/manifest.ts), before its provenance."""
    return {
        'schemaVersion': 1,
        'id': model_id,
        'title': title,
        'file': f'{model_id}.onnx',
        'domains': {'from': src, 'to': dst},
        'architecture': architecture,
        'params': count_params(G),
        'macsAt256': count_macs(G, 256, 256),
        'input': {'name': INPUT_NAME, 'layout': 'NCHW', 'channels': 3, 'range': [-1, 1], 'sizeMultiple': 4},
        'output': {'name': OUTPUT_NAME, 'layout': 'NCHW', 'channels': 3, 'range': [-1, 1]},
    }


def build_manifest(*, model_id: str, title: str, G: torch.nn.Module, cfg: C.Config, state: dict,
                   direction: str, parity: float, exporter: str, description: str = '') -> dict:
    from training.export import OPSET

    src, dst = (cfg.domain_a, cfg.domain_b) if direction == 'AB' else (cfg.domain_b, cfg.domain_a)
    n_a, n_b = state.get('n_images', [None, None])
    dataset = f'{Path(cfg.dataset).name} (trainA {n_a} {cfg.domain_a} / trainB {n_b} {cfg.domain_b} images'
    dataset += f'; {cfg.dataset_note})' if cfg.dataset_note else ')'
    desc = (f'CycleGAN generator G_{direction} ({src} -> {dst}) trained by training/train.py together with its reverse; '
            f'batch {cfg.batch_size}, lr {cfg.lr:g}, lambda {cfg.lambda_cycle:g}, identity {cfg.lambda_identity:g}*lambda, '
            f'{cfg.disc} ndf {cfg.ndf}. Exported by training/export.py ({exporter} exporter, opset {OPSET}); '
            f'ONNX Runtime vs torch max abs diff {parity:.1e}.')
    if description:
        desc += ' ' + description
    return {
        **manifest_head(model_id, title, G, src, dst, architecture_name(cfg)),
        'provenance': {
            'kind': 'trained',
            'description': desc,
            'dataset': dataset,
            'epochs': round(float(state['epochs_done']), 2),
            'iterations': int(state['step']),
            'cropPx': cfg.crop_px,
            'loadPx': cfg.load_px,
            'hardware': state['hardware'],
            'wallTimeS': round(float(state['wall_time_s']), 1),
            'command': state['command'],
            'script': 'training/train.py',
            'torchVersion': state['torch_version'],
        },
    }


def _provenance(m: dict, key: str):
    p = m.get('provenance')
    return p.get(key) if isinstance(p, dict) else None


def read_manifest(path: Path) -> dict:
    """An existing manifest as a dict; {} when there is none or it is unreadable."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return old if isinstance(old, dict) else {}


def same_checkpoint(old: dict, new: dict) -> bool:
    """Same run, step and architecture: the old manifest's metrics describe this export."""
    return (_provenance(old, 'command') == _provenance(new, 'command') and old.get('architecture') == new['architecture']
            and _provenance(old, 'iterations') == _provenance(new, 'iterations'))


def with_listing(manifest: dict, group: Optional[str], summary: Optional[str]) -> dict:
    """The manifest with the picker's `group` and `summary` placed after its title (when given)."""
    out: dict = {}
    for key, value in manifest.items():
        if key in ('group', 'summary'):
            continue
        out[key] = value
        if key == 'title':
            out.update({k: v for k, v in (('group', group), ('summary', summary)) if v})
    return out
