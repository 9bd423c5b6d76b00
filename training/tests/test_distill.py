"""training/distill.py on tiny data: the loss goes down, resume is exact, export passes parity."""
import csv
import json
import shutil

import pytest
import torch

from training import distill
from training.distill_data import augment
from training.distill_export import load_student
from training.export import export

needs_node = pytest.mark.skipif(shutil.which('node') is None, reason='node is needed for onnxruntime-node')


def run(tiny_dataset, out, cache, *extra):
    args = ['--dataset', str(tiny_dataset), '--scenes', '', '--extra_b', '2', '--student', 'tiny',
            '--crop_px', '64', '--scale_max', '1.2', '--batch_size', '2', '--cache_size', '12', '--cache_dir', str(cache),
            '--eval_images', '0', '--log_every', '1', '--ckpt_every', '1000', '--threads', '2', '--out_dir', str(out)]
    return distill.main(args + list(extra))


def losses(out):
    with (out / 'log.csv').open() as f:
        return [float(r['l1']) + float(r['feat']) for r in csv.DictReader(f)]


def test_the_loss_goes_down_in_a_few_steps(tiny_dataset, tmp_path):
    out = run(tiny_dataset, tmp_path / 'run', tmp_path / 'cache', '--steps', '40', '--lr', '3e-3')
    loss = losses(out)
    assert len(loss) == 40
    assert sum(loss[-5:]) / 5 < 0.8 * sum(loss[:5]) / 5


def test_resume_continues_exactly(tiny_dataset, tmp_path):
    straight = run(tiny_dataset, tmp_path / 'a', tmp_path / 'cache', '--steps', '8')
    halves = run(tiny_dataset, tmp_path / 'b', tmp_path / 'cache', '--steps', '8', '--stop_after', '4')
    assert not (halves / 'final.pt').exists()
    run(tiny_dataset, tmp_path / 'b', tmp_path / 'cache', '--steps', '8', '--resume')
    a, b = torch.load(straight / 'final.pt'), torch.load(halves / 'final.pt')
    assert a['step'] == b['step'] == 8
    for k, v in a['student'].items():
        assert torch.equal(v, b['student'][k]), k
    assert losses(straight) == losses(halves)


def test_resume_refuses_other_settings(tiny_dataset, tmp_path):
    run(tiny_dataset, tmp_path / 'c', tmp_path / 'cache', '--steps', '4', '--stop_after', '2')
    with pytest.raises(SystemExit, match='lambda_feat'):
        run(tiny_dataset, tmp_path / 'c', tmp_path / 'cache', '--steps', '4', '--resume', '--lambda_feat', '0.5')


@needs_node
def test_export_of_a_distilled_checkpoint_passes_parity(tiny_dataset, tmp_path):
    out = run(tiny_dataset, tmp_path / 'run', tmp_path / 'cache', '--steps', '3')
    models = tmp_path / 'models'
    manifest = export(out / 'final.pt', 'AB', models, model_id='tiny-h2z')
    assert manifest['domains'] == {'from': 'horse', 'to': 'zebra'}
    assert manifest['provenance']['kind'] == 'distilled' and manifest['provenance']['iterations'] == 3
    assert manifest['provenance']['teacher']['noticeFile'] == 'tiny-h2z.LICENSE'
    assert 'BSD' in (models / 'tiny-h2z.LICENSE').read_text() or 'Redistribution' in (models / 'tiny-h2z.LICENSE').read_text()
    assert json.loads((models / 'tiny-h2z.json').read_text())['params'] == sum(p.numel() for p in load_student(out / 'final.pt')[0].parameters())


@needs_node
def test_reverse_mode_learns_the_inverse_from_pseudo_pairs(tiny_dataset, tmp_path):
    out = run(tiny_dataset, tmp_path / 'rev', tmp_path / 'cache', '--steps', '3', '--reverse', '--feat_taps', '0',
              '--extra_b', '0', '--lambda_gan', '0.1')
    manifest = export(out / 'final.pt', 'AB', tmp_path / 'models', model_id='tiny-z2h')
    assert manifest['domains'] == {'from': 'zebra', 'to': 'horse'}
    assert 'pseudo-pairs' in manifest['provenance']['description']
    with pytest.raises(SystemExit, match='feat_taps 0'):
        run(tiny_dataset, tmp_path / 'rev2', tmp_path / 'cache', '--steps', '1', '--reverse')


def test_a_student_can_go_on_from_a_checkpoint(tiny_dataset, tmp_path):
    """--init <checkpoint> starts from that run's student instead of the teacher's slices."""
    first = run(tiny_dataset, tmp_path / 'a', tmp_path / 'cache', '--steps', '3')
    start = torch.load(first / 'final.pt')['student']
    out = run(tiny_dataset, tmp_path / 'b', tmp_path / 'cache', '--steps', '1', '--lr', '1e-12',
              '--init', str(first / 'final.pt'))
    after = torch.load(out / 'final.pt')['student']
    for k, v in start.items():
        assert torch.allclose(v, after[k], atol=1e-6), k
    with pytest.raises(SystemExit, match='not a distillation checkpoint'):
        torch.save({'format': 'other'}, tmp_path / 'other.pt')
        run(tiny_dataset, tmp_path / 'c', tmp_path / 'cache', '--steps', '1', '--init', str(tmp_path / 'other.pt'))


def test_a_scale_below_one_crops_whole_scenes():
    """--scale_min/--scale_max below 1 with a smaller crop show the student the whole (scaled-down)
    image, as a live session at a small processing size sees it."""
    img = torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8)
    whole = torch.nn.functional.interpolate(img[None].float() / 127.5 - 1, size=(32, 32), mode='bilinear',
                                            align_corners=False, antialias=True)[0]
    for seed in range(4):
        x = augment(img, torch.Generator().manual_seed(seed), 32, 0.5, 0.5, 0.0)
        assert x.shape == (3, 32, 32)
        assert torch.allclose(x, whole, atol=1e-5) or torch.allclose(x, whole.flip(-1), atol=1e-5)


def test_scale_min_must_be_positive_and_at_most_scale_max(tiny_dataset, tmp_path):
    with pytest.raises(SystemExit, match='scale_min'):
        run(tiny_dataset, tmp_path / 'a', tmp_path / 'cache', '--steps', '1', '--scale_min', '1.5')


@needs_node
def test_a_student_that_went_on_from_a_checkpoint_keeps_the_teachers_notice(tiny_dataset, tmp_path):
    first = run(tiny_dataset, tmp_path / 'a', tmp_path / 'cache', '--steps', '2')
    out = run(tiny_dataset, tmp_path / 'b', tmp_path / 'cache', '--steps', '2', '--init', str(first / 'final.pt'))
    manifest = export(out / 'final.pt', 'AB', tmp_path / 'models', model_id='tiny-ft')
    assert manifest['provenance']['teacher']['noticeFile'] == 'tiny-ft.LICENSE'
    assert 'went on from the student in' in manifest['provenance']['description']


def test_a_gan_against_the_teachers_outputs_trains(tiny_dataset, tmp_path):
    out = run(tiny_dataset, tmp_path / 'a', tmp_path / 'cache', '--steps', '3', '--lambda_gan', '0.1', '--gan_real', 'teacher')
    with (out / 'log.csv').open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and all(float(r['gan_d']) > 0 for r in rows)
    with pytest.raises(SystemExit, match='gan_real'):
        run(tiny_dataset, tmp_path / 'b', tmp_path / 'cache', '--steps', '1', '--gan_real', 'teacher', '--reverse',
            '--feat_taps', '0', '--lambda_gan', '0.1')


def test_a_student_can_go_on_from_a_shipped_onnx(tiny_dataset, tmp_path):
    """--init models/<id>.onnx: the shipped weights, read back by name, when the run that made them is gone."""
    from training.export import export_onnx
    first = run(tiny_dataset, tmp_path / 'a', tmp_path / 'cache', '--steps', '2')
    G, _ = load_student(first / 'final.pt')
    export_onnx(G, tmp_path / 'tiny.onnx')
    out = run(tiny_dataset, tmp_path / 'b', tmp_path / 'cache', '--steps', '1', '--lr', '1e-12', '--init', str(tmp_path / 'tiny.onnx'))
    after = torch.load(out / 'final.pt')['student']
    for k, v in G.state_dict().items():
        assert torch.allclose(v, after[k], atol=1e-6), k
    with pytest.raises(SystemExit, match='not-there.onnx'):
        run(tiny_dataset, tmp_path / 'c', tmp_path / 'cache', '--steps', '1', '--init', str(tmp_path / 'not-there.onnx'))


def test_the_stability_term_is_trained_and_logged(tiny_dataset, tmp_path):
    out = run(tiny_dataset, tmp_path / 'a', tmp_path / 'cache', '--steps', '2', '--lambda_stable', '1')
    with (out / 'log.csv').open() as f:
        assert all(float(r['stable']) > 0 for r in csv.DictReader(f))
    with pytest.raises(SystemExit, match='stable_shift_px'):
        run(tiny_dataset, tmp_path / 'b', tmp_path / 'cache', '--steps', '1', '--lambda_stable', '1',
            '--stable_shift_px', '0', '--input_noise', '0')



def test_the_cycle_through_the_teacher_trains_the_reverse_student(tiny_dataset, tmp_path):
    """With no L1, the cycle term alone moves the student: its gradient flows back through the frozen teacher."""
    from training.distill_export import student_manifest
    common = ('--steps', '2', '--reverse', '--feat_taps', '0', '--extra_b', '0', '--lambda_l1', '0', '--lr', '1e-2',
              '--init', 'scratch')
    still = run(tiny_dataset, tmp_path / 'still', tmp_path / 'cache', *common)
    moved = run(tiny_dataset, tmp_path / 'moved', tmp_path / 'cache', *common, '--lambda_cycle', '1')
    with (moved / 'log.csv').open() as f:
        assert all(float(r['cycle']) > 0 for r in csv.DictReader(f))
    a, b = torch.load(still / 'final.pt')['student'], torch.load(moved / 'final.pt')['student']
    assert any(not torch.equal(a[k], b[k]) for k in a)
    G, state = load_student(moved / 'final.pt')
    manifest = student_manifest(model_id='t', title='t', G=G, state=state, parity=0.0, exporter='t', description='',
                                models_dir=tmp_path)
    assert 'cycle through' in manifest['provenance']['description']
    with pytest.raises(SystemExit, match='only with --reverse'):
        run(tiny_dataset, tmp_path / 'b', tmp_path / 'cache', '--steps', '1', '--lambda_cycle', '1')
