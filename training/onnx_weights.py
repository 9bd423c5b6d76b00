"""A shipped model's weights back into torch: the ONNX file's initializers, loaded by name.

The torchscript exporter keeps each parameter under its state_dict name ('model.10.conv_block.1.conv.0.weight'),
so a generator built with the same architecture takes them with load_state_dict(strict=True). That lets a
run go on from what is in models/ when the training checkpoint that made it is gone (runs/ is not committed).
A file whose initializers do not cover the module (another architecture, or an exporter that folded
weights into constants) is refused with the names that are missing or left over.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Tuple

import torch
from torch import nn


class OnnxWeightsError(ValueError):
    """The ONNX file's initializers do not fit the module."""


def load_onnx_weights(module: nn.Module, path: Path) -> None:
    """Copy the initializers of the ONNX file at `path` into `module` (every state_dict entry must be there)."""
    import onnx  # Debian's python3-onnx; imported here so that training without it still runs
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    found = {init.name: torch.from_numpy(numpy_helper.to_array(init).copy()) for init in graph.initializer}
    wanted = module.state_dict()
    missing = sorted(k for k in wanted if k not in found)
    if missing:
        raise OnnxWeightsError(f'{Path(path).name} does not hold this architecture\'s weights; missing '
                               f'{", ".join(missing[:4])}{" …" if len(missing) > 4 else ""}')
    bad = [k for k in wanted if tuple(found[k].shape) != tuple(wanted[k].shape)]
    if bad:
        raise OnnxWeightsError(f'{Path(path).name}: other shapes for {", ".join(bad[:4])}')
    module.load_state_dict({k: found[k].to(wanted[k].dtype) for k in wanted}, strict=True)


def generator_for(architecture: str) -> nn.Module:
    """An untrained generator of the architecture a manifest names (as export.py and distill_export.py write it)."""
    from training.models import FastGenerator
    from training.students import STUDENTS, build_student

    fast = re.match(r'fast-ngf(\d+)-b(\d+)\b', architecture)
    if fast:
        return FastGenerator(int(fast[1]), int(fast[2]))
    student = re.match(r'mobile-resnet-([a-z0-9]+)\b', architecture)
    if student and student[1] in STUDENTS:
        return build_student(student[1])
    raise OnnxWeightsError(f'cannot rebuild architecture {architecture!r}: known are fast-ngf<N>-b<N> and the distilled students')


def load_shipped(models_dir: Path, model_id: str) -> Tuple[nn.Module, dict]:
    """(models/<id>.onnx as a torch generator in eval mode, its manifest)."""
    try:
        manifest = json.loads((Path(models_dir) / f'{model_id}.json').read_text())
        G = generator_for(manifest['architecture'])
        load_onnx_weights(G, Path(models_dir) / manifest['file'])
    except (OSError, ValueError, KeyError, TypeError) as e:
        if isinstance(e, OnnxWeightsError):
            raise
        raise OnnxWeightsError(f'no readable model {model_id!r} in {Path(models_dir).name}/: {e}') from e
    return G.eval(), manifest
