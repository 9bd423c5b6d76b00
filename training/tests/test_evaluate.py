import json
import shutil

import pytest
import torch

from conftest import tiny_config
from training.domain_classifier import kid, translation_success
from training.evaluate import direction_for, evaluate
from training.judged import painting_judge, run_generator
from training.metrics import AtProcessingSize, cycle_l1, edge_correlation, flicker, read_clip, ssim_grey
from training.data import datasets_root
from training.export import export
from training.models import FastGenerator
from training.train import train


def test_kid_of_identical_sets_is_about_zero():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 16, generator=g)
    same, _ = kid(x, x.clone())
    other, _ = kid(x, torch.randn(200, 16, generator=g) + 1.0)
    assert abs(same) < 0.02 * other
    assert other > 0


def test_translation_success_of_a_perfect_and_a_wrong_classifier():
    red = torch.zeros(5, 3, 8, 8)
    red[:, 0] = 1
    blue = torch.zeros(4, 3, 8, 8)
    blue[:, 2] = 1
    perfect = lambda x: (x[:, 2].mean((1, 2)) > x[:, 0].mean((1, 2))).long()  # noqa: E731  1 = blue
    assert translation_success(perfect, blue, target=1) == 1.0
    assert translation_success(perfect, red, target=1) == 0.0
    assert translation_success(perfect, torch.cat([red, blue]), target=0) == pytest.approx(5 / 9)


def test_painting_judge_names_the_target_kind_and_skips_other_datasets():
    red = torch.zeros(3, 3, 8, 8)
    red[:, 0] = 1
    blue = torch.zeros(2, 3, 8, 8)
    blue[:, 2] = 1
    is_photo = lambda x: (x[:, 2].mean((1, 2)) > x[:, 0].mean((1, 2))).long()  # noqa: E731  0 = painting (red)
    info = {'testAccuracy': 0.9}
    to_monet = painting_judge(is_photo, red, blue, 'photo', 'monet', 128, info)
    assert (to_monet['target'], to_monet['share'], to_monet['inputsShare']) == ('painting', 1.0, 0.0)
    to_photo = painting_judge(is_photo, red, blue, 'vangogh', 'photo', 128, info)
    assert (to_photo['target'], to_photo['share'], to_photo['inputsShare']) == ('photo', 0.0, 1.0)
    assert painting_judge(is_photo, red, blue, 'horse', 'zebra', 128, info) is None


def test_flicker_of_a_static_clip_is_zero():
    frame = torch.rand(1, 3, 32, 48) * 2 - 1
    clip = frame.repeat(6, 1, 1, 1)
    G = FastGenerator(8, 1).eval()
    f = flicker(clip, run_generator(G, clip))
    assert f['outputChangeStatic'] == 0.0 and f['staticFraction'] == 1.0 and f['inputChangeAll'] == 0.0


def test_flicker_counts_only_static_pixels():
    inp = torch.zeros(2, 3, 4, 4)
    inp[1, :, 0, :] = 1.0  # top row changes a lot: not static
    out = torch.zeros(2, 3, 4, 4)
    out[1] = 0.2  # output changes by 0.1 (0..1 scale) everywhere
    f = flicker(inp, out)
    assert f['staticFraction'] == pytest.approx(0.75)
    assert f['outputChangeStatic'] == pytest.approx(0.1)


def test_content_metrics_of_identical_images():
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert ssim_grey(x, x).tolist() == pytest.approx([1.0, 1.0])
    assert edge_correlation(x, x).tolist() == pytest.approx([1.0, 1.0])
    assert cycle_l1(x, x) == 0.0
    assert float(ssim_grey(x, -x).mean()) < 0.5


def test_real_clip_is_read_at_a_multiple_of_4():
    clip = datasets_root() / 'videos' / 'davis-horsejump-high.mp4'
    frames = read_clip(clip, 64, 3)
    assert frames.shape[0] == 3 and frames.shape[1] == 3
    assert frames.shape[2] == 64 and frames.shape[3] % 4 == 0
    assert -1 <= float(frames.min()) and float(frames.max()) <= 1


@pytest.mark.parametrize('backend', ['onnx', 'torch'])
def test_evaluate_writes_metrics_into_the_manifest(tiny_dataset, tmp_path, backend):
    if shutil.which('node') is None:
        pytest.skip('node is needed for the ONNX parity check')
    run = tmp_path / 'run'
    train(tiny_config(tiny_dataset, run, iters=2, domain_a='horse', domain_b='zebra'))
    export(run / 'final.pt', 'AB', tmp_path / 'models')
    clips = tmp_path / 'videos'
    clips.mkdir()
    shutil.copy(datasets_root() / 'videos' / 'davis-cows.mp4', clips)
    metrics = evaluate(run / 'final.pt', tmp_path / 'models' / 'horse2zebra.json', dataset=str(tiny_dataset),
                       classifier_px=32, classifier_width=8, classifier_epochs=1, cache_dir=tmp_path / 'cls',
                       videos_dir=clips, flicker_frames=3, backend=backend)
    m = json.loads((tmp_path / 'models' / 'horse2zebra.json').read_text())
    assert m['metrics'] == metrics
    assert 0 <= metrics['translationSuccess'] <= 1
    assert 0 <= metrics['classifier']['testAccuracy'] <= 1
    assert metrics['cycleL1'] >= 0 and -1 <= metrics['ssimGrey'] <= 1
    assert set(metrics['flicker']['clips']) == {'davis-cows.mp4'}
    assert (tmp_path / 'models' / 'horse2zebra.grid.png').is_file()
    assert list((tmp_path / 'cls').glob('tiny_h2z-*.pt'))  # classifier cached
    assert metrics['inference'].startswith('ONNX' if backend == 'onnx' else 'torch')
    # the ImageNet judge leads, then agreement with the published teacher, then the domain classifier
    keys = list(metrics)
    assert keys.index('imagenet') < keys.index('teacherAgreement') < keys.index('translationSuccess')
    assert metrics['imagenet']['inputsTop1Zebra'] == 0.0 and metrics['imagenet']['images'] == 6
    assert 0 <= metrics['imagenet']['top1Zebra'] <= 1 and 0 <= metrics['imagenet']['meanPZebra'] <= 1
    assert metrics['teacherAgreement']['images'] == 6 and metrics['teacherAgreement']['l1'] > 0


def test_evaluate_a_distilled_student(tiny_dataset, tmp_path):
    if shutil.which('node') is None:
        pytest.skip('node is needed for the ONNX parity check')
    from training import distill
    out = distill.main(['--dataset', str(tiny_dataset), '--scenes', '', '--extra_b', '2', '--student', 'tiny',
                        '--crop_px', '64', '--batch_size', '2', '--cache_size', '4', '--cache_dir', str(tmp_path / 'cache'),
                        '--eval_images', '0', '--steps', '2', '--out_dir', str(tmp_path / 'run')])
    export(out / 'final.pt', 'AB', tmp_path / 'models', model_id='tiny-h2z')
    metrics = evaluate(out / 'final.pt', tmp_path / 'models' / 'tiny-h2z.json', dataset=str(tiny_dataset),
                       classifier_px=32, classifier_width=8, classifier_epochs=1, cache_dir=tmp_path / 'cls',
                       videos_dir=tmp_path / 'no-videos', flicker_frames=3, backend='onnx')
    assert 'cycleL1' not in metrics  # a student has no reverse generator
    assert metrics['imagenet']['images'] == 6 and metrics['teacherAgreement']['teacher'] == 'horse2zebra'


def test_at_processing_size_runs_the_generator_on_the_scaled_frame_and_returns_the_input_size():
    seen = []

    def G(x):
        seen.append(tuple(x.shape[-2:]))
        return -x  # a pixelwise generator: the result must be -x, blurred only by the two resizes

    x = torch.linspace(-1, 1, 48 * 80).view(1, 1, 48, 80).expand(2, 3, 48, 80).contiguous()
    out = AtProcessingSize(G, 24)(x)
    # short side 48 -> 24, long side 80 -> 40, both multiples of 4
    assert seen == [(24, 40)]
    assert out.shape == x.shape
    assert float((out + x).abs().mean()) < 0.02


def test_an_onnx_model_is_judged_on_its_own_input_domain():
    """A shipped photo -> painting model on monet2photo (trainA = paintings) translates the test photos (B)."""
    assert direction_for('monet2photo', 'photo') == 'BA'
    assert direction_for('/data/vangogh2photo', 'photo') == 'BA'
    assert direction_for('horse2zebra', 'horse') == 'AB'
    assert direction_for('my-pictures', 'my-pictures-a') == 'AB'
