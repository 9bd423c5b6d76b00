import pytest
import torch
from torch import nn

from training.config import Config
from training.models import (DISCRIMINATORS, GENERATORS, PRESETS, FastGenerator, PatchDiscriminator, ResnetGenerator,
                    build_discriminator, build_generator, count_macs, count_params)


@pytest.mark.parametrize('name', sorted(PRESETS))
def test_generators_keep_shape(name):
    p = PRESETS[name]
    G = GENERATORS[p['gen']](ngf=p['ngf'], n_blocks=p['n_blocks']).eval()
    for h, w in ((64, 64), (48, 80)):  # multiples of 4, square and not
        with torch.no_grad():
            y = G(torch.rand(2, 3, h, w) * 2 - 1)
        assert y.shape == (2, 3, h, w)
        assert float(y.abs().max()) <= 1.0  # tanh


def test_parameter_counts():
    # the paper's generator and discriminator, as counted by the authors' code
    assert count_params(ResnetGenerator(64, 9)) == 11_378_179
    assert count_params(PatchDiscriminator(64, 3)) == 2_764_737
    assert count_params(FastGenerator(32, 9)) == 344_227
    assert count_params(FastGenerator(16, 6)) == 65_235


def test_patchgan_output_is_30x30_patches():
    with torch.no_grad():
        assert PatchDiscriminator(64, 3)(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
        assert PatchDiscriminator(8, 2)(torch.zeros(1, 3, 64, 64)).shape == (1, 1, 14, 14)


def test_mac_counter_on_known_layers():
    conv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1))
    assert count_macs(conv, 16, 16) == 16 * 16 * 8 * 3 * 9
    dw = nn.Sequential(nn.Conv2d(8, 8, 3, 2, 1, groups=8))
    assert count_macs(nn.Sequential(nn.Conv2d(3, 8, 1), dw), 16, 16) == 16 * 16 * 8 * 3 + 8 * 8 * 8 * 9
    # transposed conv: every input pixel scatters out_channels x k x k products
    convt = nn.Sequential(nn.ConvTranspose2d(3, 4, 3, 2, 1, output_padding=1))
    assert count_macs(convt, 8, 8) == 8 * 8 * 4 * 3 * 9


@pytest.mark.parametrize('name', [n for n, p in PRESETS.items() if p['gen'] == 'fast'])
def test_fast_generators_fit_the_2g_mac_budget(name):
    p = PRESETS[name]
    macs = count_macs(FastGenerator(p['ngf'], p['n_blocks']), 256, 256)
    assert macs <= 2e9
    if name == 'fast32x9':  # the shipped configuration
        assert macs == 1_879_834_624


def test_fast_generator_has_no_transposed_convs():
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in FastGenerator(16, 2).modules())


def test_registry_builds_from_config():
    cfg = Config(gen='resnet', ngf=8, n_blocks=2, ndf=8, d_layers=2)
    assert isinstance(build_generator(cfg), ResnetGenerator)
    assert isinstance(build_discriminator(cfg), PatchDiscriminator)
    assert set(GENERATORS) == {'resnet', 'fast'} and set(DISCRIMINATORS) == {'patchgan'}
    with pytest.raises(ValueError, match='unknown generator'):
        build_generator(Config(gen='unet'))
