import csv
import math

import pytest
import torch

from training import config as C
from conftest import tiny_config
from training.models import build_discriminator, build_generator, init_weights
from training.budget import iterations_that_fit
from training.losses import edge_loss
from training.checkpoint import CheckpointError, load_checkpoint
from training.train import lr_at, train


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_a_few_iterations_on_real_images(tiny_dataset, tmp_path):
    cfg = tiny_config(tiny_dataset, tmp_path / 'run', iters=4)
    summary = train(cfg)
    assert summary['step'] == 4 and summary['lr'] == 0.0
    rows = read_csv(tmp_path / 'run' / 'losses.csv')
    assert [int(r['step']) for r in rows] == [1, 2, 3, 4]
    for r in rows:
        for k in ('loss_G', 'G_adv_AB', 'cycle_A', 'idt_B', 'D_A', 'D_B'):
            assert math.isfinite(float(r[k])), (k, r)
    # weights moved away from their initialisation (rebuilt here in train.py's order and seed)
    torch.manual_seed(cfg.seed)
    nets = [build_generator(cfg), build_generator(cfg), build_discriminator(cfg), build_discriminator(cfg)]
    for n in nets:
        init_weights(n)
    final = load_checkpoint(tmp_path / 'run' / 'ckpt.pt')
    for name, net in zip(('G_AB', 'G_BA', 'D_A', 'D_B'), nets):
        changed = [not torch.equal(v, final[name][k]) for k, v in net.state_dict().items()]
        assert all(changed), name
    assert (tmp_path / 'run' / 'final.pt').is_file()
    assert (tmp_path / 'run' / 'samples' / 'final.png').is_file()


def test_resume_continues_at_the_same_step_and_lr(tiny_dataset, tmp_path):
    whole = tmp_path / 'whole'
    train(tiny_config(tiny_dataset, whole, iters=6))
    split = tmp_path / 'split'
    train(tiny_config(tiny_dataset, split, iters=6, stop_after=3))
    state = load_checkpoint(split / 'ckpt.pt')
    assert state['step'] == 3 and state['total_iters'] == 6
    assert not (split / 'final.pt').exists()
    train(tiny_config(tiny_dataset, split, iters=6, resume=True))
    a, b = read_csv(whole / 'losses.csv'), read_csv(split / 'losses.csv')
    assert [(r['step'], r['lr']) for r in a] == [(r['step'], r['lr']) for r in b]
    assert [float(r['lr']) for r in a] == pytest.approx([lr_at(tiny_config(tiny_dataset, whole, iters=6), s, 6)
                                                          for s in range(6)], rel=1e-3)
    for ra, rb in zip(a, b):
        assert float(ra['loss_G']) == pytest.approx(float(rb['loss_G']), rel=1e-4, abs=1e-5)
    wa, wb = load_checkpoint(whole / 'final.pt'), load_checkpoint(split / 'final.pt')
    assert wb['step'] == 6
    for k, v in wa['G_AB'].items():
        assert torch.allclose(v, wb['G_AB'][k], atol=1e-5), k


def test_checkpoints_hold_only_plain_values(tiny_dataset, tmp_path):
    # torch >= 2.6 loads checkpoints with weights_only=True, which refuses other classes
    # (a torch.__version__ object slipped in once and broke loading on the GPU machine)
    train(tiny_config(tiny_dataset, tmp_path / 'r', iters=1))
    plain = (str, int, float, bool, type(None))

    def walk(v, where):
        if isinstance(v, dict):
            for k, x in v.items():
                assert isinstance(k, (str, int)), where
                walk(x, f'{where}.{k}')
        elif isinstance(v, (list, tuple)):
            for i, x in enumerate(v):
                walk(x, f'{where}[{i}]')
        else:
            assert type(v) in plain or type(v) is torch.Tensor, f'{where} is {type(v)}'

    for name in ('ckpt.pt', 'final.pt'):
        walk(load_checkpoint(tmp_path / 'r' / name), name)


def test_resume_with_a_different_config_is_refused(tiny_dataset, tmp_path):
    train(tiny_config(tiny_dataset, tmp_path / 'r', iters=2))
    with pytest.raises(C.ConfigMismatchError, match=r'ngf: checkpoint=8 requested=12'):
        train(tiny_config(tiny_dataset, tmp_path / 'r', iters=2, ngf=12, resume=True))
    # runtime-only fields may change
    train(tiny_config(tiny_dataset, tmp_path / 'r', iters=2, resume=True, log_every=5, threads=1))


def test_existing_checkpoint_is_not_overwritten_without_resume(tiny_dataset, tmp_path):
    train(tiny_config(tiny_dataset, tmp_path / 'r', iters=1))
    with pytest.raises(C.ConfigMismatchError, match='--resume'):
        train(tiny_config(tiny_dataset, tmp_path / 'r', iters=1))


def test_resume_without_checkpoint_is_a_clear_error(tiny_dataset, tmp_path):
    with pytest.raises(CheckpointError, match='no checkpoint'):
        train(tiny_config(tiny_dataset, tmp_path / 'none', resume=True))


def test_time_budget_fixes_the_total_and_decays_to_zero(tiny_dataset, tmp_path):
    cfg = tiny_config(tiny_dataset, tmp_path / 'b', iters=0, time_budget_min=0.06, budget_warmup_iters=2, log_every=1000)
    summary = train(cfg)
    state = load_checkpoint(tmp_path / 'b' / 'ckpt.pt')
    assert state['total_iters'] == summary['step'] == state['step'] > 2
    assert summary['lr'] == 0.0


def test_lr_schedule():
    cfg = C.Config(lr=1.0, decay_start=0.5)
    assert [lr_at(cfg, s, 10) for s in (0, 4, 5, 6, 9, 10)] == pytest.approx([1, 1, 1, 0.8, 0.2, 0])
    assert lr_at(cfg, 3, None) == 1.0  # before a time budget has fixed the total


def test_config_printing_marks_changed_values():
    text = C.describe(C.Config(ngf=16))
    assert '* ngf' in text and '  n_blocks' in text


def test_cli_parses_booleans_and_numbers():
    cfg = C.parse_args(['--ngf', '16', '--preload', '--no-flip', '--lr', '1e-3', '--amp=false'])
    assert (cfg.ngf, cfg.preload, cfg.flip, cfg.lr, cfg.amp) == (16, True, False, 1e-3, False)


def test_stability_loss_is_logged_only_when_asked_for(tiny_dataset, tmp_path):
    train(tiny_config(tiny_dataset, tmp_path / 'off', iters=2))
    train(tiny_config(tiny_dataset, tmp_path / 'on', iters=2, lambda_stable=10.0, stable_noise=0.05))
    assert all(float(r['stable']) == 0.0 for r in read_csv(tmp_path / 'off' / 'losses.csv'))
    on = read_csv(tmp_path / 'on' / 'losses.csv')
    # G(x) and G(x + noise) differ for an untrained generator, so the term is live and finite
    assert all(0.0 < float(r['stable']) < 2.0 for r in on)
    assert all(float(r['loss_G']) > float(r['G_adv_AB']) for r in on)


def test_a_checkpoint_from_before_a_new_field_still_resumes():
    saved = C.to_dict(C.Config())
    del saved['lambda_stable'], saved['stable_noise']  # written before these existed
    assert C.diff(saved, C.Config()) == []
    assert C.diff(saved, C.Config(lambda_stable=1.0)) != []


def test_a_budget_recheck_shortens_a_run_that_slowed_down():
    # 1000 s budget, 500 s used at step 1000: at 2 it/s, ~430 s remain after the reserve -> ~790 more steps
    assert iterations_that_fit(1000, 2.0, 500.0, 1000.0, 1.0) == 1000 + int(2.0 * (1000 - 500 - 32))
    # half the speed fits half as many; over budget still takes one step, so the LR reaches 0
    assert iterations_that_fit(1000, 1.0, 500.0, 1000.0, 1.0) - 1000 == (1000 + int(2.0 * 468) - 1000) // 2
    assert iterations_that_fit(1000, 2.0, 1200.0, 1000.0, 1.0) == 1001


def test_domain_names_come_from_the_dataset_folder_when_not_given():
    assert C.domains_from_dataset('horse2zebra') == ('horse', 'zebra')
    assert C.domains_from_dataset('/data/summer2winter_yosemite/') == ('summer', 'winter')
    assert C.domains_from_dataset('My Cats & Dogs') == ('my-cats-dogs-a', 'my-cats-dogs-b')
    cfg = C.with_domains(C.Config(dataset='monet2photo', domain_b='photograph'))
    assert (cfg.domain_a, cfg.domain_b) == ('monet', 'photograph')


def test_the_budget_shortens_a_slowed_run_but_never_lengthens_it_once_the_lr_decays(monkeypatch):
    import training.budget as B
    clock = [0.0]
    monkeypatch.setattr(B.time, 'time', lambda: clock[0])
    budget = B.WallClockBudget(C.Config(time_budget_min=10, budget_warmup_iters=0, budget_safety=1.0), 0, 0.0, 0.0, 100)

    def at(t, step, total):
        clock[0] = t
        return budget.update(step, total)

    assert at(0, 0, None) == (None, '')  # measuring starts
    total, msg = at(30, 30, None)  # 1 it/s over 30 s
    assert total == 30 + int(1.0 * (600 - 30 - 20)) and 'measured' in msg
    assert at(31, 31, total) == (total, '')  # not yet time to re-check
    shorter, msg = at(200, 100, total)  # the machine got busy: 70 steps in 170 s
    assert shorter == 100 + int(70 / 170 * (600 - 200 - 20)) < total and 'changed' in msg
    assert at(330, 220, shorter) == (shorter, '')  # faster again, but the LR already decays


def test_edge_loss_is_zero_for_the_input_itself_and_pulls_a_blur_towards_the_input():
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert float(edge_loss(x, x)) < 1e-5
    blurred = torch.nn.functional.avg_pool2d(x, 5, stride=1, padding=2).requires_grad_(True)
    loss = edge_loss(x, blurred)
    assert 0.1 < float(loss) < 1.0
    loss.backward()
    # one gradient step on the blurred image makes its edges correlate better with the input's
    with torch.no_grad():
        stepped = blurred - 50.0 * blurred.grad
    assert float(edge_loss(x, stepped)) < float(loss)


def test_edge_loss_is_logged_only_when_asked_for(tiny_dataset, tmp_path):
    train(tiny_config(tiny_dataset, tmp_path / 'off', iters=2))
    train(tiny_config(tiny_dataset, tmp_path / 'on', iters=2, lambda_edge=5.0))
    assert all(float(r['edges']) == 0.0 for r in read_csv(tmp_path / 'off' / 'losses.csv'))
    on = read_csv(tmp_path / 'on' / 'losses.csv')
    assert all(0.0 < float(r['edges']) < 4.0 for r in on)
