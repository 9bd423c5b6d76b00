"""The published teacher, built by our own code from its SOURCE.md and read in place from ../shared."""
import shutil

import pytest
import torch

from training.data import load_image, list_images, to_float
from training.export import check_parity, export_onnx
from training.judge import judge_path, summary
from training.models import count_params
from training.teachers import TeacherNotFoundError, load_teacher, teacher_path

needs_node = pytest.mark.skipif(shutil.which('node') is None, reason='node is needed for onnxruntime-node')


@pytest.fixture(scope='module')
def teacher():
    if not teacher_path().is_file():
        pytest.fail(f'teacher weights not found at {teacher_path()}; the shared folder must be beside the repo')
    return load_teacher()


def test_the_checkpoint_loads_strictly_into_our_architecture(teacher):
    assert count_params(teacher) == 356_867  # SOURCE.md's figure
    assert not any(p.requires_grad for p in teacher.parameters())


def test_a_missing_teacher_names_the_file_and_the_shared_folder(tmp_path, monkeypatch):
    monkeypatch.setenv('CYCLESTREAM_TEACHERS', str(tmp_path))
    with pytest.raises(TeacherNotFoundError) as e:
        load_teacher()
    assert 'latest_net_G.pth' in str(e.value) and str(tmp_path) in str(e.value) and 'nothing is downloaded' in str(e.value)


@needs_node
def test_onnx_export_matches_torch(teacher, tmp_path):
    path = tmp_path / 'teacher.onnx'
    export_onnx(teacher, path)
    assert check_parity(teacher, path) <= 1e-4


@needs_node
def test_the_teacher_turns_test_horses_into_imagenet_zebras(teacher, h2z_root):
    assert judge_path().is_file(), f'ImageNet judge not found at {judge_path()}'
    files = list_images(h2z_root / 'testA')[:8]
    x = to_float(torch.stack([torch.from_numpy(load_image(f, 256)).permute(2, 0, 1) for f in files]))
    with torch.no_grad():
        y = teacher(x)
    assert summary(x)['top1Zebra'] == 0.0  # the real horses are not zebras
    assert summary(y)['top1Zebra'] * len(files) >= 6
