"""Where training runs: picking the device, and naming the hardware for checkpoints and manifests."""
from __future__ import annotations

import platform

import torch


def pick_device(name: str) -> torch.device:
    """'auto' is CUDA when there is one, else the CPU; any other name is taken as torch spells it."""
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(name)


def hardware_name(device: torch.device, threads: int) -> str:
    if device.type == 'cuda':
        return f'{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})'
    cpu = platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return f'CPU {cpu}, {threads} threads'
