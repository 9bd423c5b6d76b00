"""training/leave_alone.py: the ablation's measure of what a horse -> zebra model changes."""
import shutil

import pytest
import torch

from training import leave_alone

needs_node = pytest.mark.skipif(shutil.which('node') is None, reason='node is needed for onnxruntime-node')


def test_change_is_zero_for_the_identity_and_grows_with_the_change():
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    same = leave_alone.change(x, x)
    assert same == {'meanAbsChange': 0.0, 'ssimGrey': 1.0}
    moved = leave_alone.change(x, (x + 0.4).clamp(-1, 1))
    assert 0.05 < moved['meanAbsChange'] < 0.2 and moved['ssimGrey'] < 1.0


@needs_node
def test_the_teacher_leaves_zebras_zebras_and_changes_scenes_less_than_noise_would():
    sets = leave_alone.test_sets('horse2zebra', 'summer2winter_yosemite', limit=4)
    assert {k: len(v) for k, v in sets.items()} == {'horses': 4, 'zebras': 4, 'scenes': 4}
    r = leave_alone.main(['teacher', '--limit', '4', '--threads', '2'])['teacher']
    assert r['zebras']['stillTop1Zebra'] >= 0.75  # already striped: still zebras
    assert r['horses']['top1Zebra'] >= 0.5
    assert 0 < r['scenes']['meanAbsChange'] < 0.2 and r['scenes']['ssimGrey'] > 0.5
