"""A CycleGAN run's checkpoint (train.py writes it; export.py and evaluate.py read it) and the paper's
pool of generated images that the discriminators learn from."""
from __future__ import annotations

from pathlib import Path

import torch

CKPT_FORMAT = 'cyclestream-cyclegan-v1'


class CheckpointError(Exception):
    """A checkpoint is missing, unreadable or not ours."""


def load_checkpoint(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'no checkpoint at {path}')
    try:
        # Our checkpoints hold only tensors and plain Python values, so torch 2.x's safe loader reads
        # them. Torch 1.13's weights_only unpickler cannot read floats, so there we load as before 2.0.
        # Checkpoints written before torch_version was stored as a str hold a TorchVersion object.
        if hasattr(torch.serialization, 'add_safe_globals'):
            torch.serialization.add_safe_globals([torch.torch_version.TorchVersion])
        state = torch.load(path, map_location='cpu', weights_only=int(torch.__version__.split('.')[0]) >= 2)
    except Exception as e:  # noqa: BLE001 - torch raises many types for bad files
        raise CheckpointError(f'cannot read checkpoint {path}: {e}') from e
    if not isinstance(state, dict) or state.get('format') != CKPT_FORMAT:
        raise CheckpointError(f'{path} is not a cyclestream CycleGAN checkpoint')
    return state


class ImagePool:
    """The paper's history buffer: once full, each new fake replaces a stored one half the time and
    the discriminator sees the stored one instead."""

    def __init__(self, size: int, generator: torch.Generator):
        self.size, self.g, self.images = size, generator, []

    def query(self, fakes: torch.Tensor) -> torch.Tensor:  # [B, 3, H, W] -> [B, 3, H, W]
        if self.size == 0:
            return fakes
        out = []
        for img in fakes.detach().float().split(1):
            if len(self.images) < self.size:
                self.images.append(img)
                out.append(img)
            elif torch.rand(1, generator=self.g).item() < 0.5:
                j = int(torch.randint(0, self.size, (1,), generator=self.g).item())
                out.append(self.images[j])
                self.images[j] = img
            else:
                out.append(img)
        return torch.cat(out)
