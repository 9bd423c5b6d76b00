"""Stage the training images for the GPU machine in .gpu/datasets/ (git-ignored).

Only the working tree travels to the GPU machine (64 MiB at most) and the original JPEGs of the two
train sets weigh ~145 MB, so each train image is re-encoded as WebP (quality 70, method 6, 256x256
as before): ~38 MiB for all 3201 images. Test images are not staged; evaluation runs here on the
original files. Names are kept (only the extension changes), so samples stay traceable.

    /usr/bin/python3 -m training.gpu.stage_data [--quality 70] [--teacher]

--teacher also stages the horse -> zebra teacher (2 MB, with its LICENSE and SOURCE.md) in .gpu/teachers/,
for distillation on the GPU machine (training/gpu/distill_run.sh); like the images it is git-ignored and
never committed.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from training.data import REPO_ROOT, list_images, resolve_dataset

DATASETS = ('horse2zebra', 'summer2winter_yosemite')


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--quality', type=int, default=70)
    p.add_argument('--out', default=str(REPO_ROOT / '.gpu' / 'datasets'))
    p.add_argument('--teacher', action='store_true', help='also stage the horse2zebra teacher in .gpu/teachers/')
    a = p.parse_args()
    if a.teacher:
        from training.teachers import teacher_path
        src = teacher_path('horse2zebra').parent
        dst = REPO_ROOT / '.gpu' / 'teachers' / src.name
        dst.mkdir(parents=True, exist_ok=True)
        for f in src.iterdir():
            shutil.copyfile(f, dst / f.name)
        print(f'teacher: {src} -> {dst}', flush=True)
    total = 0
    for name in DATASETS:
        root = resolve_dataset(name)
        for split in ('trainA', 'trainB'):
            dst = Path(a.out) / name / split
            dst.mkdir(parents=True, exist_ok=True)
            files = list_images(root / split)

            def convert(f: Path) -> int:
                out = dst / (f.stem + '.webp')
                with Image.open(f) as im:
                    im.convert('RGB').save(out, 'WEBP', quality=a.quality, method=6)
                return out.stat().st_size

            with ThreadPoolExecutor(2) as ex:
                size = sum(ex.map(convert, files))
            total += size
            print(f'{name}/{split}: {len(files)} images -> {dst} ({size / 2**20:.1f} MiB)', flush=True)
    print(f'total {total / 2**20:.1f} MiB', flush=True)


if __name__ == '__main__':
    main()
