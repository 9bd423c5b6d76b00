"""What a horse -> zebra model does to the test horses, and to what it should leave alone.

    python3 -m training.leave_alone runs/abl-extra/final.pt runs/abl-none/final.pt models/horse2zebra-hq.onnx teacher

For each model (a distillation checkpoint or an ONNX file), on unseen test images:
- horses (horse2zebra testA): the ImageNet judge's top-1 zebra share and mean P(zebra), edges kept;
- zebras (testB), already the target: the share still top-1 zebra, mean |change| (0..1) and grey SSIM to the input;
- landscapes without animals (summer2winter_yosemite testA + testB): mean |change| and grey SSIM.
distill.py adds trainB zebras and Yosemite scenes to the horses (--extra_b, --extra_scenes) so that the
student learns to leave these alone; this measures whether it did.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import torch

from training.data import list_images, resolve_dataset, to_float
from training.distill_data import load_images
from training.metrics import edge_correlation, ssim_grey

Model = Callable[[torch.Tensor], torch.Tensor]


def test_sets(dataset: str, scenes: str, limit: int = 0) -> Dict[str, torch.Tensor]:
    """{'horses', 'zebras', 'scenes'}: [N, 3, 256, 256] in [-1, 1]."""
    def load(files: List[Path]) -> torch.Tensor:
        return to_float(load_images(files[:limit] if limit else files))
    root, s_root = resolve_dataset(dataset), resolve_dataset(scenes)
    return {'horses': load(list_images(root / 'testA')), 'zebras': load(list_images(root / 'testB')),
            'scenes': load(list_images(s_root / 'testA') + list_images(s_root / 'testB'))}


def change(x: torch.Tensor, y: torch.Tensor) -> Dict[str, float]:
    """Mean |y - x| on a 0..1 scale and grey SSIM of y to x."""
    return {'meanAbsChange': round(float((y - x).abs().mean()) / 2, 4), 'ssimGrey': round(float(ssim_grey(x, y).mean()), 4)}


def scores(model: Model, sets: Dict[str, torch.Tensor]) -> Dict[str, Dict[str, float]]:
    from training.judge import summary
    out = {k: model(x) for k, x in sets.items()}
    return {
        'horses': {**summary(out['horses']), 'edgeCorrelation': round(float(edge_correlation(sets['horses'], out['horses']).mean()), 4)},
        'zebras': {'stillTop1Zebra': summary(out['zebras'])['top1Zebra'], **change(sets['zebras'], out['zebras'])},
        'scenes': change(sets['scenes'], out['scenes']),
    }


def open_model(path: Path, onnx_path: Path, threads: int) -> Model:
    """Every model runs in ONNX Runtime, as the server runs it (torch 1.13's depthwise convolutions are slow).
    `teacher` names the published teacher, as a reference; a checkpoint is exported to onnx_path first."""
    from training.distill_export import load_student
    from training.evaluate import OnnxGenerator
    from training.teachers import load_teacher
    if path.suffix == '.onnx':
        return OnnxGenerator(None, path, threads)
    if str(path) == 'teacher':
        return OnnxGenerator(load_teacher('horse2zebra', 'cpu'), onnx_path, threads)
    G, state = load_student(path)
    if state['config'].get('reverse'):
        raise SystemExit(f'{path}: a reverse (zebra -> horse) student; this measures horse -> zebra models')
    return OnnxGenerator(G, onnx_path, threads)


def main(argv: Sequence[str] = None) -> Dict[str, dict]:
    p = argparse.ArgumentParser(description='What a horse -> zebra model changes on test horses, zebras and landscapes.')
    p.add_argument('models', nargs='+', type=Path, help='distillation checkpoints (.pt), ONNX files, or teacher')
    p.add_argument('--dataset', default='horse2zebra')
    p.add_argument('--scenes', default='summer2winter_yosemite')
    p.add_argument('--limit', type=int, default=0, help='at most this many images per set (0 = all)')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--json', type=Path, help='also write the results here')
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    sets = test_sets(args.dataset, args.scenes, args.limit)
    print(', '.join(f'{len(v)} test {k}' for k, v in sets.items()), flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(args.models):
            results[str(path)] = r = scores(open_model(path, Path(tmp) / f'{i}.onnx', args.threads), sets)
            h, z, s = r['horses'], r['zebras'], r['scenes']
            print(f'{path}: horses {h["top1Zebra"]:.1%} zebra (P {h["meanPZebra"]:.2f}), edges {h["edgeCorrelation"]:.2f}; '
                  f'zebras {z["stillTop1Zebra"]:.1%} still zebra, change {z["meanAbsChange"]:.3f}, SSIM {z["ssimGrey"]:.2f}; '
                  f'scenes change {s["meanAbsChange"]:.3f}, SSIM {s["ssimGrey"]:.2f}', flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return results


if __name__ == '__main__':
    main()
