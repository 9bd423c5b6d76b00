"""Random-weight ONNX exports of the generator architectures in training/models.py, for benchmarks.

Speed does not depend on the weights, so the paper's ResNet-9 (and stand-ins for the shipped
fast generators before trained ones exist) can be timed without training anything:

    /usr/bin/python3 scripts/bench/make-reference.py --preset resnet9 --out test/.artifacts/resnet9-random.onnx
    python3 scripts/bench/make-reference.py --preset fast32x9 --out m.onnx --manifest m.json --id fast32x9-random
    python3 scripts/bench/make-reference.py --preset resnet9 --out r16.onnx --fp16   (GPU benchmarks only)

Weights: the paper's N(0, 0.02) init (training/models.py init_weights) under torch.manual_seed(0).
Export: opset 17, input 'input' / output 'output', NCHW float32 in [-1, 1], dynamic batch, height
and width (feed multiples of 4), as training/export.py does for trained models. `--manifest`
writes a models/<id>.json (provenance.kind "random", hidden) so the server's own loader takes it.
`--fp16` exports a half-precision graph (input and output float16) for GPU runs; the server only
loads float32 models, so no manifest is written for it. Output files are written atomically.
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import warnings
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / 'training'))
from models import GENERATORS, PRESETS, count_macs, count_params, init_weights  # noqa: E402

OPSET = 17


def build(preset: str) -> torch.nn.Module:
    if preset not in PRESETS:
        raise SystemExit(f'unknown preset {preset!r}; known: {", ".join(sorted(PRESETS))}')
    p = PRESETS[preset]
    torch.manual_seed(0)
    net = GENERATORS[p['gen']](ngf=p['ngf'], n_blocks=p['n_blocks'])
    init_weights(net)
    return net.eval()


def export(net: torch.nn.Module, out: Path, fp16: bool) -> None:
    x = torch.zeros(1, 3, 256, 256)
    if fp16:
        # tracing runs the net, and half-precision convolutions need a GPU on older torch
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
        net, x = net.to(device).half(), x.to(device).half()
    dyn = {0: 'batch', 2: 'height', 3: 'width'}
    kwargs = dict(opset_version=OPSET, input_names=['input'], output_names=['output'],
                  dynamic_axes={'input': dyn, 'output': dyn}, do_constant_folding=True)
    has_dynamo = 'dynamo' in inspect.signature(torch.onnx.export).parameters
    if has_dynamo:
        kwargs['dynamo'] = False  # torch >= 2.9 defaults to dynamo; the TorchScript exporter is the known-good one
    tmp = out.with_name(out.name + '.tmp')
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter('ignore')
        try:
            torch.onnx.export(net, (x,), str(tmp), **kwargs)
        except Exception as e:  # noqa: BLE001 - a torch without the TorchScript exporter
            if not has_dynamo:
                raise
            print(f'TorchScript exporter failed ({e}); trying the dynamo exporter', file=sys.stderr, flush=True)
            kwargs['dynamo'] = True
            torch.onnx.export(net, (x,), str(tmp), **kwargs)
    os.replace(tmp, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--preset', default='resnet9', help=f'one of {", ".join(sorted(PRESETS))}')
    ap.add_argument('--out', required=True, help='the .onnx file to write')
    ap.add_argument('--manifest', help='also write this manifest (.json) beside it')
    ap.add_argument('--id', help='model id for the manifest (default: the --out file stem)')
    ap.add_argument('--fp16', action='store_true', help='half-precision graph, for GPU benchmarks')
    a = ap.parse_args()
    if a.fp16 and a.manifest:
        raise SystemExit('--fp16 models are not loadable by the server; no --manifest for them')
    net = build(a.preset)
    params, macs = count_params(net), count_macs(net, 256, 256)
    out = Path(a.out)
    export(net, out, a.fp16)
    if a.manifest:
        model_id = a.id or out.stem
        p = PRESETS[a.preset]
        manifest = {
            'schemaVersion': 1,
            'id': model_id,
            'title': f'{a.preset} (random weights, benchmark only)',
            'file': out.name,
            'domains': {'from': 'rgb', 'to': 'rgb'},
            'architecture': f"{p['gen']}-ngf{p['ngf']}-b{p['n_blocks']} ({a.preset})",
            'params': params,
            'macsAt256': macs,
            'input': {'name': 'input', 'layout': 'NCHW', 'channels': 3, 'range': [-1, 1], 'sizeMultiple': 4},
            'output': {'name': 'output', 'layout': 'NCHW', 'channels': 3, 'range': [-1, 1]},
            'provenance': {
                'kind': 'random',
                'description': f'training/models.py {a.preset} with the N(0, 0.02) init under seed 0; untrained, for speed measurements.',
                'script': 'scripts/bench/make-reference.py',
                'torchVersion': torch.__version__,
            },
            'hidden': True,
        }
        mpath = Path(a.manifest)
        tmp = mpath.with_name(mpath.name + '.tmp')
        tmp.write_text(json.dumps(manifest, indent=2) + '\n')
        os.replace(tmp, mpath)
    print(json.dumps({'preset': a.preset, 'out': str(out), 'bytes': out.stat().st_size, 'params': params,
                      'macsAt256': macs, 'fp16': a.fp16, 'torch': torch.__version__}), flush=True)


if __name__ == '__main__':
    main()
