"""Half-precision copies of exported generators, for GPU execution providers.

    python3 -m training.fp16 models/horse2zebra.json [models/zebra2horse.json ...]

For each manifest, writes <file stem>.fp16.onnx beside the fp32 model: the same graph with its
weights and arithmetic in float16 and its input and output still float32 (a Cast at each end), so
the server feeds and reads it exactly like the fp32 file. Tensors that must stay float32 (Resize
scales, and anything else not consumed as a weight or an arithmetic operand) are left alone.
The copy is checked against the fp32 model with ONNX Runtime on the CPU on a real-looking input,
and the manifest gets an `fp16` entry with the file and the measured difference; the server loads
it on cuda and webgpu (MODEL_PRECISION=auto). On this project's CPU it is not faster.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from training.export import ExportError, run_onnx, validate_manifest

# (op type, input index) pairs whose float operand may be float16 when the data path is.
HALF_OPERANDS: Set[Tuple[str, int]] = {
    ('Conv', 1), ('Conv', 2), ('ConvTranspose', 1), ('ConvTranspose', 2),
    ('InstanceNormalization', 1), ('InstanceNormalization', 2),
    ('BatchNormalization', 1), ('BatchNormalization', 2), ('BatchNormalization', 3), ('BatchNormalization', 4),
    ('Add', 0), ('Add', 1), ('Sub', 0), ('Sub', 1), ('Mul', 0), ('Mul', 1), ('Div', 0), ('Div', 1),
    ('Pad', 2), ('Clip', 1), ('Clip', 2),
}
# Outputs up to 1 in magnitude: fp16 keeps about 3 decimal digits, well under one 8-bit level (2/255).
MAX_ABS_DIFF = 0.05
MAX_MEAN_LEVELS = 1.0


def consumers(graph: onnx.GraphProto) -> Dict[str, List[Tuple[str, int]]]:
    uses: Dict[str, List[Tuple[str, int]]] = {}
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name:
                uses.setdefault(name, []).append((node.op_type, i))
    return uses


def to_half(model: onnx.ModelProto) -> Tuple[onnx.ModelProto, int]:
    """A float16 copy with float32 I/O; returns it and the number of tensors converted."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    uses = consumers(g)
    half_ok = lambda name: bool(uses.get(name)) and all(u in HALF_OPERANDS for u in uses[name])  # noqa: E731
    converted = 0
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT and half_ok(init.name):
            arr = numpy_helper.to_array(init).astype(np.float16)
            init.CopyFrom(numpy_helper.from_array(arr, init.name))
            converted += 1
    for node in g.node:
        if node.op_type != 'Constant' or not half_ok(node.output[0]):
            continue
        for attr in node.attribute:
            if attr.name == 'value' and attr.t.data_type == TensorProto.FLOAT:
                arr = numpy_helper.to_array(attr.t).astype(np.float16)
                attr.t.CopyFrom(numpy_helper.from_array(arr, attr.t.name))
                converted += 1
    # Casts inside the graph that produce float32 data would undo the conversion downstream.
    for node in g.node:
        if node.op_type == 'Cast':
            for attr in node.attribute:
                if attr.name == 'to' and attr.i == TensorProto.FLOAT:
                    attr.i = TensorProto.FLOAT16
    # float32 at the edges: cast the input in and the output out, so the server's feed is unchanged.
    (inp,) = g.input
    (out,) = g.output
    half_in, half_out = inp.name + '_fp16', out.name + '_fp16'
    for node in g.node:
        for i, name in enumerate(node.input):
            if name == inp.name:
                node.input[i] = half_in
        for i, name in enumerate(node.output):
            if name == out.name:
                node.output[i] = half_out
    g.node.insert(0, helper.make_node('Cast', [inp.name], [half_in], to=TensorProto.FLOAT16, name='cast_input_fp16'))
    g.node.append(helper.make_node('Cast', [half_out], [out.name], to=TensorProto.FLOAT, name='cast_output_fp32'))
    # Shapes inferred for fp32 would now be wrong; ONNX Runtime infers them again at load.
    del g.value_info[:]
    onnx.checker.check_model(m)
    return m, converted


def sample_input(height: int = 256, width: int = 256, seed: int = 0) -> np.ndarray:
    """Smooth gradients plus texture in [-1, 1]: closer to a photo than uniform noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([np.sin(xx / 23.0), np.cos(yy / 31.0), np.sin((xx + yy) / 17.0)])
    x = 0.7 * base + 0.3 * rng.uniform(-1, 1, size=(3, height, width)).astype(np.float32)
    return np.clip(x, -1, 1)[None].astype(np.float32)


def convert(manifest_path: Path, validate: bool = True) -> dict:
    manifest = json.loads(manifest_path.read_text())
    src = manifest_path.parent / manifest['file']
    stem = manifest['file'][: -len('.onnx')]
    dst = manifest_path.parent / f'{stem}.fp16.onnx'
    half, converted = to_half(onnx.load(str(src)))
    tmp = dst.with_name(dst.name + '.tmp')
    onnx.save(half, str(tmp))
    x = sample_input()
    try:
        ref, got = run_onnx(src, x), run_onnx(tmp, x)
    except ExportError:
        tmp.unlink()  # a half copy ORT cannot load (e.g. an op whose inputs stay fp32) leaves nothing behind
        raise
    max_abs = float(np.abs(ref - got).max())
    lo, hi = manifest['output']['range']
    mean_levels = float(np.abs(ref - got).mean() * 255.0 / (hi - lo))
    if not (max_abs <= MAX_ABS_DIFF and mean_levels <= MAX_MEAN_LEVELS):
        tmp.unlink()
        raise ExportError(f'{dst.name}: fp16 differs from fp32 by max {max_abs:.3g}, mean {mean_levels:.3g} levels')
    os.replace(tmp, dst)
    manifest['fp16'] = {
        'file': dst.name,
        'maxAbsDiff': round(max_abs, 5),
        'meanAbsDiffLevels': round(mean_levels, 4),
        'script': 'training/fp16.py',
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + '\n')
    if validate:
        validate_manifest(manifest_path)
    print(f'{dst} ({dst.stat().st_size / 1e6:.2f} MB, {converted} tensors in fp16): vs fp32 max abs {max_abs:.2e}, '
          f'mean {mean_levels:.3f} 8-bit levels')
    return manifest['fp16']


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('manifests', nargs='+', type=Path, help='models/<id>.json of an exported fp32 generator')
    p.add_argument('--no-validate', action='store_true', help='skip scripts/validate-manifest.ts')
    args = p.parse_args(argv)
    for path in args.manifests:
        convert(path, validate=not args.no_validate)


if __name__ == '__main__':
    main()
