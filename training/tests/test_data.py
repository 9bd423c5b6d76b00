import numpy as np
import pytest
import torch
from PIL import Image

from training.data import (DatasetError, DomainImages, ImageReadError, UnpairedBatches, list_images, load_image,
                  open_split, resolve_dataset)


def test_missing_dataset_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match='not found'):
        resolve_dataset(str(tmp_path / 'no_such_set'))
    with pytest.raises(DatasetError, match=r'not found: .*trainA'):
        open_split(tmp_path, 'train', 0)


def test_empty_dataset_folder_is_a_clear_error(tmp_path):
    (tmp_path / 'trainA').mkdir()
    (tmp_path / 'trainA' / 'notes.txt').write_text('not an image')
    with pytest.raises(DatasetError, match=r'empty: .*trainA'):
        list_images(tmp_path / 'trainA')


def test_corrupt_image_error_names_the_file(tmp_path, h2z_root):
    good = sorted((h2z_root / 'trainA').glob('*.jpg'))[0].read_bytes()
    bad = tmp_path / 'truncated.jpg'
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(ImageReadError, match='truncated.jpg'):
        load_image(bad)
    junk = tmp_path / 'junk.png'
    junk.write_bytes(b'not a png at all')
    with pytest.raises(ImageReadError, match='junk.png'):
        load_image(junk)


def test_greyscale_becomes_rgb(h2z_root):
    path = h2z_root / 'trainB' / 'n02391049_226.jpg'  # one of the 7 greyscale zebras
    with Image.open(path) as im:
        assert im.mode == 'L'
    x = load_image(path)
    assert x.shape == (256, 256, 3) and x.dtype == np.uint8
    assert (x[..., 0] == x[..., 1]).all()


def test_png_and_webp_are_read(tmp_path):
    rgb = (np.arange(32 * 24 * 3) % 251).astype(np.uint8).reshape(24, 32, 3)
    Image.fromarray(rgb).save(tmp_path / 'a.png')
    Image.fromarray(rgb).convert('RGBA').save(tmp_path / 'b.webp', lossless=True)
    assert [p.name for p in list_images(tmp_path)] == ['a.png', 'b.webp']
    assert (load_image(tmp_path / 'a.png') == rgb).all()
    assert (load_image(tmp_path / 'b.webp') == rgb).all()
    assert load_image(tmp_path / 'a.png', load_px=16).shape == (16, 16, 3)


def test_scale_preserving_crops_are_windows_of_the_original(tmp_path):
    # pixels encode their own coordinates (R = x, G = y), so an unscaled crop steps by exactly 1
    yy, xx = np.mgrid[0:256, 0:256]
    img = np.stack([xx, yy, np.full_like(xx, 7)], -1).astype(np.uint8)
    for split in ('trainA', 'trainB'):
        (tmp_path / split).mkdir()
        Image.fromarray(img).save(tmp_path / split / 'coords.png')
    a, b = open_split(tmp_path, 'train', 0)  # load_px 0: native 256x256
    batches = UnpairedBatches(a, b, 3, 128, False, torch.device('cpu'), False, torch.Generator().manual_seed(0))
    xa, xb = batches.next()
    assert xa.shape == xb.shape == (3, 3, 128, 128)
    u8 = ((xa + 1) * 127.5).round().long()
    assert (u8[:, 0, :, 1:] - u8[:, 0, :, :-1] == 1).all()  # x steps by one pixel
    assert (u8[:, 1, 1:, :] - u8[:, 1, :-1, :] == 1).all()  # y too
    assert len({(int(c[0, 0, 0]), int(c[1, 0, 0])) for c in u8}) > 1  # random offsets


def test_preload_and_streaming_give_the_same_batches(tiny_dataset):
    def batches(preload):
        a, b = open_split(tiny_dataset, 'train', 40)
        return UnpairedBatches(a, b, 4, 32, True, torch.device('cpu'), preload, torch.Generator().manual_seed(1))

    s, p = batches(False), batches(True)
    for _ in range(3):
        for x, y in zip(s.next(), p.next()):
            assert torch.equal(x, y)


def test_max_images_limits_each_domain(tiny_dataset):
    assert len(DomainImages(tiny_dataset / 'trainA', 0, max_images=2)) == 2
