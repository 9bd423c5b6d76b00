"""training/fp16.py: the half-precision copy of an exported generator keeps float32 I/O and the
tensors that must stay float32, computes in float16, and matches the fp32 model closely."""
import json
import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from conftest import tiny_config
from training.export import ExportError, export, run_onnx
from training.fp16 import convert, sample_input, to_half
from training.train import train

needs_node = pytest.mark.skipif(shutil.which('node') is None, reason='node is needed for onnxruntime-node')


@pytest.fixture(scope='module')
def exported(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp('fp16_run')
    train(tiny_config(tiny_dataset, out, iters=2, domain_a='horse', domain_b='zebra'))
    models = out / 'models'
    export(out / 'final.pt', 'AB', models, model_id='h2z', validate=False)
    return models


@needs_node
def test_half_copy_keeps_float32_io_and_scales(exported):
    half, converted = to_half(onnx.load(str(exported / 'h2z.onnx')))
    assert converted > 0
    elem = lambda v: v.type.tensor_type.elem_type  # noqa: E731
    assert elem(half.graph.input[0]) == TensorProto.FLOAT and elem(half.graph.output[0]) == TensorProto.FLOAT
    inits = {i.name: i.data_type for i in half.graph.initializer}
    conv_weights = [n.input[1] for n in half.graph.node if n.op_type == 'Conv' and n.input[1] in inits]
    assert conv_weights and all(inits[w] == TensorProto.FLOAT16 for w in conv_weights)
    # Resize scales (an upsampling generator has them) must stay float32 for ONNX.
    for n in half.graph.node:
        if n.op_type == 'Resize' and len(n.input) > 2 and n.input[2] in inits:
            assert inits[n.input[2]] == TensorProto.FLOAT


@needs_node
def test_convert_writes_file_and_manifest_and_matches_fp32(exported):
    entry = convert(exported / 'h2z.json', validate=True)
    assert entry['file'] == 'h2z.fp16.onnx' and (exported / 'h2z.fp16.onnx').is_file()
    manifest = json.loads((exported / 'h2z.json').read_text())
    assert manifest['fp16'] == entry and entry['maxAbsDiff'] <= 0.05
    x = sample_input(64, 96, seed=4)
    a, b = run_onnx(exported / 'h2z.onnx', x), run_onnx(exported / 'h2z.fp16.onnx', x)
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    assert 0 < np.abs(a - b).max() <= 0.05  # different arithmetic, same picture


@needs_node
def test_a_broken_half_copy_is_refused(exported, monkeypatch):
    from training import fp16
    monkeypatch.setattr(fp16, 'MAX_ABS_DIFF', 0.0)
    with pytest.raises(ExportError, match='fp16 differs'):
        convert(exported / 'h2z.json', validate=False)
    assert not (exported / 'h2z.fp16.onnx.tmp').exists()


@needs_node
def test_a_distilled_student_converts_too(tiny_dataset, tmp_path):
    """Students clamp their input with a Clip, whose bounds must follow the data into float16."""
    from training import distill
    out = distill.main(['--dataset', str(tiny_dataset), '--scenes', '', '--extra_b', '2', '--student', 'tiny',
                        '--crop_px', '64', '--batch_size', '2', '--cache_size', '4', '--cache_dir', str(tmp_path / 'cache'),
                        '--eval_images', '0', '--steps', '1', '--out_dir', str(tmp_path / 'run')])
    export(out / 'final.pt', 'AB', tmp_path / 'models', model_id='tiny-h2z', validate=False)
    assert any(n.op_type == 'Clip' for n in onnx.load(str(tmp_path / 'models' / 'tiny-h2z.onnx')).graph.node)
    entry = convert(tmp_path / 'models' / 'tiny-h2z.json', validate=False)
    assert entry['maxAbsDiff'] <= 0.05
