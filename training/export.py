"""Export one generator of a CycleGAN checkpoint to models/<id>.onnx and models/<id>.json.

    npm run export -- --checkpoint runs/horse2zebra/final.pt --direction AB
    npm run export -- --checkpoint runs/horse2zebra/final.pt --direction BA --id zebra2horse

The generator is rebuilt from the checkpoint's config alone, exported as ONNX opset 17 with
dynamic batch, height and width (feed multiples of 4), and ONNX Runtime's output is checked
against torch's (max abs diff <= 1e-4) with Python's onnxruntime when it is installed, else
with onnxruntime-node through scripts/ort-run.mjs. The manifest follows
server/inference/manifest.ts and is checked with scripts/validate-manifest.ts when node is here.
Metrics are added later by evaluate.py; an existing manifest's metrics are kept only when it
describes the same checkpoint.
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import torch

from training import config as C
from training.manifest import INPUT_NAME, OUTPUT_NAME, _provenance, build_manifest, read_manifest, same_checkpoint, with_listing
from training.models import build_generator
from training.data import REPO_ROOT
from training.checkpoint import load_checkpoint

MODEL_ID = re.compile(r'^[a-z0-9][a-z0-9_-]{0,63}$')  # server/inference/manifest.ts MODEL_ID_PATTERN
OPSET = 17
PARITY_TOL = 1e-4
GROUPS = ('animals', 'seasons', 'painters', 'other')  # server/contract/media.ts MODEL_GROUPS
SHORT_SIDE_PX = (64, 1080)  # server/contract/media.ts LIMITS.processingShortSidePx


class ExportError(Exception):
    """Export failed: bad arguments, an ONNX that does not match torch, or an invalid manifest."""


def load_generator(checkpoint: Path, direction: str) -> Tuple[torch.nn.Module, C.Config, dict]:
    """(generator in eval mode on the CPU, its config, the checkpoint dict)."""
    if direction not in ('AB', 'BA'):
        raise ExportError(f'direction must be AB or BA, not {direction!r}')
    state = load_checkpoint(checkpoint)
    cfg = C.from_dict(state['config'])
    G = build_generator(cfg)
    G.load_state_dict(state['G_' + direction])
    G.eval()
    return G, cfg, state


def export_onnx(G: torch.nn.Module, path: Path) -> str:
    """Writes the ONNX file; returns which torch exporter made it."""
    x = torch.zeros(1, 3, 256, 256)
    dyn = {0: 'batch', 2: 'height', 3: 'width'}
    kwargs = dict(opset_version=OPSET, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                  dynamic_axes={INPUT_NAME: dyn, OUTPUT_NAME: dyn}, do_constant_folding=True)
    params = inspect.signature(torch.onnx.export).parameters
    path.parent.mkdir(parents=True, exist_ok=True)
    exporter = 'torchscript'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # torch 2.x warns that the TorchScript exporter is deprecated
        try:
            if 'dynamo' in params:  # torch >= 2.9 defaults to the dynamo exporter; ours is known to work
                kwargs['dynamo'] = False
            with torch.no_grad():
                torch.onnx.export(G, (x,), str(path), **kwargs)
        except Exception as e:  # noqa: BLE001 - a torch without the TorchScript exporter
            if 'dynamo' not in params:
                raise
            print(f'TorchScript exporter failed ({e}); trying the dynamo exporter', flush=True)
            kwargs['dynamo'] = True
            with torch.no_grad():
                torch.onnx.export(G, (x,), str(path), **kwargs)
            exporter = 'dynamo'
    import onnx
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    opsets = {o.domain or 'ai.onnx': o.version for o in model.opset_import}
    if opsets.get('ai.onnx') != OPSET:
        raise ExportError(f'{path}: opset {opsets} instead of {OPSET}')
    return exporter


def onnx_runtime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        return True
    except ImportError:
        return shutil.which('node') is not None and (REPO_ROOT / 'node_modules' / 'onnxruntime-node').is_dir()


def run_onnx(path: Path, x: np.ndarray, threads: int = 1) -> np.ndarray:
    """One ONNX Runtime run on the CPU: Python's onnxruntime if present, else onnxruntime-node."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    try:
        import onnxruntime as ort  # installed on the GPU machine, not on Debian
    except ImportError:
        ort = None
    if ort is not None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(str(path), opts, providers=['CPUExecutionProvider'])
        return sess.run(None, {sess.get_inputs()[0].name: x})[0]
    node = shutil.which('node')
    if not node:
        raise ExportError('cannot check the ONNX file: neither Python onnxruntime nor node is installed')
    with tempfile.TemporaryDirectory() as tmp:
        fin, fout = Path(tmp) / 'in.f32', Path(tmp) / 'out.f32'
        fin.write_bytes(x.astype('<f4').tobytes())
        r = subprocess.run([node, str(REPO_ROOT / 'scripts' / 'ort-run.mjs'), str(path), str(fin),
                            ','.join(map(str, x.shape)), str(fout), '--threads', str(threads)],
                           cwd=REPO_ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            raise ExportError(f'scripts/ort-run.mjs failed: {r.stderr.strip() or r.stdout.strip()}')
        shape = json.loads(r.stdout.strip().splitlines()[-1])['shape']
        return np.frombuffer(fout.read_bytes(), dtype='<f4').reshape(shape)


def check_parity(G: torch.nn.Module, path: Path, sizes=((256, 256), (192, 320))) -> float:
    """Max abs difference between torch and ONNX Runtime over inputs of the given sizes."""
    worst = 0.0
    g = torch.Generator().manual_seed(0)
    for h, w in sizes:
        x = torch.rand(1, 3, h, w, generator=g) * 2 - 1
        with torch.no_grad():
            want = G(x).numpy()
        got = run_onnx(path, x.numpy())
        if got.shape != want.shape:
            raise ExportError(f'{path}: ONNX output shape {got.shape} != torch {want.shape} for input {h}x{w}')
        worst = max(worst, float(np.abs(got - want).max()))
    if worst > PARITY_TOL:
        raise ExportError(f'{path}: ONNX Runtime differs from torch by {worst:.2e} (> {PARITY_TOL:g})')
    return worst


def validate_manifest(path: Path) -> Optional[str]:
    """Runs the server's own schema over the manifest; None when node/tsx is not available here."""
    node = shutil.which('node')
    if not node or not (REPO_ROOT / 'node_modules' / 'tsx').is_dir():
        return None
    r = subprocess.run([node, '--import', 'tsx', 'scripts/validate-manifest.ts', str(path)],
                       cwd=REPO_ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        raise ExportError(f'manifest {path} is invalid: {(r.stderr or r.stdout).strip()}')
    return r.stdout.strip()


def export(checkpoint: Path, direction: str, models_dir: Path, model_id: Optional[str] = None,
           title: Optional[str] = None, description: str = '', validate: bool = True,
           group: Optional[str] = None, summary: Optional[str] = None, overwrite: bool = False,
           cpu_short_side_px: Optional[int] = None) -> dict:
    """Writes models/<id>.onnx and its manifest from a CycleGAN (train.py), distilled (distill.py) or refined
    (refine.py) checkpoint."""
    from training.distill_export import is_distilled, load_student, student_manifest
    from training.refine_export import is_refined, load_refined, refined_manifest

    if group and group not in GROUPS:
        raise ExportError(f'group must be one of {", ".join(GROUPS)}, not {group!r}')
    if cpu_short_side_px is not None and not SHORT_SIDE_PX[0] <= cpu_short_side_px <= SHORT_SIDE_PX[1]:
        raise ExportError(f'cpu_short_side_px must be {SHORT_SIDE_PX[0]}..{SHORT_SIDE_PX[1]}, not {cpu_short_side_px}')
    kind = 'distilled' if is_distilled(Path(checkpoint)) else 'refined' if is_refined(Path(checkpoint)) else 'trained'
    if kind == 'distilled':
        G, state = load_student(Path(checkpoint))
        src, dst = state['domains']
    elif kind == 'refined':  # by default it keeps the id and title of the model it refines
        G, state = load_refined(Path(checkpoint))
        src, dst = state['domains']
        model_id, title = model_id or state['source']['id'], title or state['source']['title']
    else:
        G, cfg, state = load_generator(Path(checkpoint), direction)
        src, dst = (cfg.domain_a, cfg.domain_b) if direction == 'AB' else (cfg.domain_b, cfg.domain_a)
    model_id = model_id or f'{src}2{dst}'.lower().replace(' ', '-')
    if not MODEL_ID.match(model_id):
        raise ExportError(f'invalid model id {model_id!r}: use lowercase letters, digits, - and _')
    title = title or f'{src.capitalize()} → {dst.capitalize()}'
    models_dir = Path(models_dir)
    onnx_path, json_path = models_dir / f'{model_id}.onnx', models_dir / f'{model_id}.json'

    old = read_manifest(json_path)
    if old and not overwrite and _provenance(old, 'command') != state.get('command'):
        raise ExportError(f'{json_path} already describes another model ({old.get("title")!r}, made by another run); '
                          'pass --id to export under a new id, or --overwrite to replace it')

    tmp_onnx = onnx_path.with_name(onnx_path.name + '.tmp')
    exporter = export_onnx(G, tmp_onnx)
    parity = check_parity(G, tmp_onnx)
    os.replace(tmp_onnx, onnx_path)

    if kind == 'distilled':
        manifest = student_manifest(model_id=model_id, title=title, G=G, state=state, parity=parity,
                                    exporter=exporter, description=description, models_dir=models_dir)
    elif kind == 'refined':
        source_dir = Path(state['config']['models_dir'])
        manifest = refined_manifest(model_id=model_id, title=title, G=G, state=state, parity=parity, exporter=exporter,
                                    description=description, models_dir=models_dir,
                                    source_dir=source_dir if source_dir.is_absolute() else REPO_ROOT / source_dir)
    else:
        manifest = build_manifest(model_id=model_id, title=title, G=G, cfg=cfg, state=state, direction=direction,
                                  parity=parity, exporter=exporter, description=description)
    # The picker's group and one-line summary are editorial, so a re-export keeps the old ones
    # unless new ones are given.
    manifest = with_listing(manifest, group or old.get('group'), summary or old.get('summary'))
    # Measured on a CPU, not derived from the checkpoint, so it is kept the same way.
    cpu_px = cpu_short_side_px or old.get('cpuShortSidePx')
    if cpu_px:
        manifest['cpuShortSidePx'] = cpu_px
    if old and 'metrics' in old and same_checkpoint(old, manifest):  # evaluate.py's metrics still hold
        manifest['metrics'] = old['metrics']
    json_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + '\n')
    checked = validate_manifest(json_path) if validate else None
    print(f'exported {onnx_path} ({onnx_path.stat().st_size / 1e6:.2f} MB, {manifest["params"]:,} params, '
          f'{manifest["macsAt256"] / 1e9:.3f} G MACs at 256x256, parity {parity:.1e}) and {json_path}'
          + (f'; {checked}' if checked else '; manifest not validated (no node/tsx here)'), flush=True)
    return manifest


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--checkpoint', required=True, help='ckpt.pt or final.pt written by train.py, distill.py or refine.py')
    p.add_argument('--direction', default='AB', choices=['AB', 'BA'], help='AB: domain_a -> domain_b (train.py checkpoints)')
    p.add_argument('--id', dest='model_id', help='model id (default <from>2<to>)')
    p.add_argument('--title')
    p.add_argument('--description', default='', help='appended to provenance.description')
    p.add_argument('--group', choices=GROUPS, help="the picker's section (default: kept from an existing manifest, else other)")
    p.add_argument('--summary', help='one sentence for users, shown under the picker')
    p.add_argument('--cpu_short_side_px', type=int,
                   help='live short side at which the model keeps realtime on a 2-core CPU; auto uses it there '
                        '(default: kept from an existing manifest, else none)')
    p.add_argument('--models_dir', default=str(REPO_ROOT / 'models'))
    p.add_argument('--overwrite', action='store_true', help='replace a model of the same id that another run made')
    p.add_argument('--no-validate', dest='validate', action='store_false')
    a = p.parse_args(argv)
    export(Path(a.checkpoint), a.direction, Path(a.models_dir), a.model_id, a.title, a.description, a.validate,
           a.group, a.summary, a.overwrite, a.cpu_short_side_px)


if __name__ == '__main__':
    main()
