"""training/refine.py on tiny data: it starts from the shipped ONNX, resumes exactly, exports with the lineage."""
import csv
import json
import shutil

import pytest
import torch

from training import refine
from training.export import export, export_onnx
from training.losses import shift
from training.models import FastGenerator
from training.onnx_weights import OnnxWeightsError, load_onnx_weights, load_shipped

needs_node = pytest.mark.skipif(shutil.which('node') is None, reason='node is needed for onnxruntime-node')


@pytest.fixture
def shipped(tmp_path):
    """models/tiny.onnx + tiny.json: a small generator as export.py would have shipped it."""
    models = tmp_path / 'models'
    models.mkdir()
    torch.manual_seed(0)
    G = FastGenerator(4, 1).eval()
    export_onnx(G, models / 'tiny.onnx')
    (models / 'tiny.json').write_text(json.dumps({
        'id': 'tiny', 'title': 'Tiny', 'group': 'other', 'summary': 'A test model.', 'file': 'tiny.onnx',
        'architecture': 'fast-ngf4-b1 (depthwise-separable ResNet generator)',
        'domains': {'from': 'tiny_h2z-a', 'to': 'tiny_h2z-b'},
        'provenance': {'kind': 'trained', 'command': 'python3 -m training.train --tiny', 'iterations': 10,
                       'wallTimeS': 5.0, 'script': 'training/train.py', 'hardware': 'a laptop'}}))
    return models, G


def run(tiny_dataset, models, out, *extra):
    args = ['--model', 'tiny', '--models_dir', str(models), '--dataset', str(tiny_dataset), '--crop_px', '64',
            '--batch_size', '2', '--eval_images', '2', '--eval_frames', '0', '--eval_every', '2', '--log_every', '1',
            '--threads', '2', '--out_dir', str(out)]
    return refine.main(args + list(extra))


def test_onnx_weights_come_back_into_torch_by_name(shipped, tmp_path):
    models, G = shipped
    again, manifest = load_shipped(models, 'tiny')
    assert manifest['id'] == 'tiny'
    for k, v in G.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k
    with pytest.raises(OnnxWeightsError, match='other shapes'):
        load_onnx_weights(FastGenerator(8, 1), models / 'tiny.onnx')
    with pytest.raises(OnnxWeightsError, match='missing'):
        load_onnx_weights(FastGenerator(4, 2), models / 'tiny.onnx')
    with pytest.raises(OnnxWeightsError, match='no readable model'):
        load_shipped(models, 'absent')


def test_shift_moves_by_whole_and_sub_pixels():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert torch.allclose(shift(x, 1, 0)[..., 1:], x[..., :-1])
    assert torch.allclose(shift(x, 0.5, 0)[..., 1:], (x[..., 1:] + x[..., :-1]) / 2)


def test_refine_starts_from_the_shipped_model(tiny_dataset, shipped, tmp_path):
    """... and its curve starts at the original, scored by the ImageNet judge for a horse -> zebra model."""
    models, G = shipped
    manifest = json.loads((models / 'tiny.json').read_text())
    (models / 'tiny.json').write_text(json.dumps({**manifest, 'domains': {'from': 'horse', 'to': 'zebra'}}))
    horses = shutil.copytree(tiny_dataset, tmp_path / 'horse2zebra')  # the folder's name gives its domains
    out = run(horses, models, tmp_path / 'a', '--steps', '2', '--lr', '1e-12')
    state = torch.load(out / 'final.pt')
    for k, v in G.state_dict().items():
        assert torch.allclose(v, state['G'][k], atol=1e-6), k
    with (out / 'curve.csv').open() as f:
        rows = list(csv.DictReader(f))
    assert rows[0]['step'] == '0' and float(rows[0]['l1Original']) == 0.0
    assert 0.0 <= float(rows[-1]['top1Zebra']) <= 1.0
    with pytest.raises(SystemExit, match='absent'):
        refine.main(['--model', 'absent', '--models_dir', str(models), '--dataset', str(tiny_dataset), '--steps', '1'])


def test_resume_continues_exactly(tiny_dataset, shipped, tmp_path):
    """... the discriminator too, when the adversarial term is on."""
    models, _ = shipped
    terms = ['--lambda_edge', '1', '--lambda_gan', '0.5', '--ndf', '8']
    straight = run(tiny_dataset, models, tmp_path / 'a', '--steps', '6', *terms)
    halves = run(tiny_dataset, models, tmp_path / 'b', '--steps', '6', *terms, '--stop_after', '3')
    assert not (halves / 'final.pt').exists()
    torch.manual_seed(1)
    export_onnx(FastGenerator(4, 1).eval(), models / 'tiny.onnx')  # replaced meanwhile: the run keeps its original
    run(tiny_dataset, models, tmp_path / 'b', '--steps', '6', *terms, '--resume')
    a, b = torch.load(straight / 'final.pt'), torch.load(halves / 'final.pt')
    for net in ('G', 'D'):
        for k, v in a[net].items():
            assert torch.equal(v, b[net][k]), (net, k)
    with (straight / 'log.csv').open() as f:
        assert all(float(r['gan_d']) > 0 for r in csv.DictReader(f))
    with pytest.raises(SystemExit, match='lambda_edge'):
        run(tiny_dataset, models, tmp_path / 'b', '--steps', '8', '--lambda_gan', '0.5', '--ndf', '8', '--resume')


@needs_node
def test_export_keeps_the_lineage_of_the_model_it_refines(tiny_dataset, shipped, tmp_path):
    models, _ = shipped
    out = run(tiny_dataset, models, tmp_path / 'a', '--steps', '3')
    with pytest.raises(Exception, match='another model'):
        export(out / 'final.pt', 'AB', models)  # same id: replacing the shipped one needs --overwrite
    m = export(out / 'final.pt', 'AB', models, overwrite=True, validate=False)
    assert (m['id'], m['title'], m['group'], m['summary']) == ('tiny', 'Tiny', 'other', 'A test model.')
    p = m['provenance']
    assert p['kind'] == 'trained' and p['iterations'] == 13 and p['wallTimeS'] > 5.0
    assert p['command'].startswith('python3 -m training.train --tiny ; then python3 -m training.refine')
    assert 'refined by training/refine.py from models/tiny.onnx for 3 steps' in p['description']
    assert 'metrics' not in m and 'fp16' not in m
