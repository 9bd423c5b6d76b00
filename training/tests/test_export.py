import json
import shutil
import subprocess

import numpy as np
import onnx
import pytest
import torch

from conftest import REPO_ROOT, tiny_config
from training.export import ExportError, check_parity, export, load_generator, run_onnx
from training.train import train

needs_node = pytest.mark.skipif(shutil.which('node') is None, reason='node is needed for onnxruntime-node')


@pytest.fixture(scope='module')
def checkpoint(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp('export_run')
    train(tiny_config(tiny_dataset, out, iters=2, domain_a='horse', domain_b='zebra',
                      dataset_note='test copy'))
    return out / 'final.pt'


@needs_node
def test_export_parity_and_manifest(checkpoint, tmp_path):
    manifest = export(checkpoint, 'BA', tmp_path)  # zebra -> horse
    assert manifest['id'] == 'zebra2horse' and manifest['domains'] == {'from': 'zebra', 'to': 'horse'}
    onnx_path, json_path = tmp_path / 'zebra2horse.onnx', tmp_path / 'zebra2horse.json'
    model = onnx.load(str(onnx_path))
    assert {o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')} == {17}
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims[1] == 3 and all(isinstance(d, str) for d in (dims[0], dims[2], dims[3]))  # dynamic N, H, W
    # the server's own schema accepts it
    r = subprocess.run(['node', '--import', 'tsx', 'scripts/validate-manifest.ts', str(json_path)],
                       cwd=REPO_ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    m = json.loads(json_path.read_text())
    assert m['provenance']['kind'] == 'trained' and m['provenance']['iterations'] == 2
    assert 'test copy' in m['provenance']['dataset']
    assert m['macsAt256'] > 0 and m['params'] > 0 and m['file'] == 'zebra2horse.onnx'


@needs_node
def test_onnx_runtime_matches_torch_at_other_sizes(checkpoint, tmp_path):
    export(checkpoint, 'AB', tmp_path, model_id='h2z', validate=False)
    G, _, _ = load_generator(checkpoint, 'AB')
    x = torch.rand(1, 3, 36, 52) * 2 - 1
    with torch.no_grad():
        want = G(x).numpy()
    got = run_onnx(tmp_path / 'h2z.onnx', x.numpy())
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-4
    assert check_parity(G, tmp_path / 'h2z.onnx', sizes=((64, 64),)) <= 1e-4


@needs_node
def test_parity_failure_is_reported(checkpoint, tmp_path):
    export(checkpoint, 'AB', tmp_path, model_id='h2z', validate=False)
    G, _, _ = load_generator(checkpoint, 'AB')
    with torch.no_grad():
        for p in G.parameters():
            p.add_(0.5)
    with pytest.raises(ExportError, match='differs from torch'):
        check_parity(G, tmp_path / 'h2z.onnx', sizes=((32, 32),))


def test_bad_model_id_is_refused(checkpoint, tmp_path):
    with pytest.raises(ExportError, match='invalid model id'):
        export(checkpoint, 'AB', tmp_path, model_id='../escape')


@needs_node
def test_group_and_summary_are_written_and_kept_on_reexport(checkpoint, tmp_path):
    export(checkpoint, 'AB', tmp_path, model_id='p2m', validate=False, group='painters', summary='Paints like Monet.')
    m = json.loads((tmp_path / 'p2m.json').read_text())
    assert (m['group'], m['summary']) == ('painters', 'Paints like Monet.')
    assert list(m)[list(m).index('title') + 1:list(m).index('title') + 3] == ['group', 'summary']
    export(checkpoint, 'AB', tmp_path, model_id='p2m')  # no listing given: the editorial fields stay
    m = json.loads((tmp_path / 'p2m.json').read_text())
    assert (m['group'], m['summary']) == ('painters', 'Paints like Monet.')


@needs_node
def test_cpu_short_side_is_written_validated_and_kept_on_reexport(checkpoint, tmp_path):
    export(checkpoint, 'AB', tmp_path, model_id='h2z', cpu_short_side_px=192)  # validated by the server's schema
    assert json.loads((tmp_path / 'h2z.json').read_text())['cpuShortSidePx'] == 192
    export(checkpoint, 'AB', tmp_path, model_id='h2z', validate=False)  # not given: the measured value stays
    assert json.loads((tmp_path / 'h2z.json').read_text())['cpuShortSidePx'] == 192
    export(checkpoint, 'AB', tmp_path, model_id='h2z', validate=False, cpu_short_side_px=160)
    assert json.loads((tmp_path / 'h2z.json').read_text())['cpuShortSidePx'] == 160
    export(checkpoint, 'AB', tmp_path, model_id='plain', validate=False)
    assert 'cpuShortSidePx' not in json.loads((tmp_path / 'plain.json').read_text())


def test_cpu_short_side_outside_the_limits_is_refused_before_any_file_is_written(checkpoint, tmp_path):
    with pytest.raises(ExportError, match='cpu_short_side_px must be 64..1080'):
        export(checkpoint, 'AB', tmp_path, model_id='x', cpu_short_side_px=32)
    assert list(tmp_path.iterdir()) == []


def test_unknown_group_is_refused_before_any_file_is_written(checkpoint, tmp_path):
    with pytest.raises(ExportError, match='group must be one of'):
        export(checkpoint, 'AB', tmp_path, model_id='x', group='sculptors')
    assert list(tmp_path.iterdir()) == []


def test_a_model_from_another_run_is_not_overwritten_without_asking(checkpoint, tmp_path):
    (tmp_path / 'h2z.json').write_text(json.dumps({'title': 'Shipped', 'provenance': {'command': 'another run'}}))
    with pytest.raises(ExportError, match='already describes another model'):
        export(checkpoint, 'AB', tmp_path, model_id='h2z', validate=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['h2z.json']  # nothing written
    export(checkpoint, 'AB', tmp_path, model_id='h2z', validate=False, overwrite=True)
    assert json.loads((tmp_path / 'h2z.json').read_text())['provenance']['kind'] == 'trained'
