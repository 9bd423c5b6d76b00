"""How many 30 fps streams one GPU machine translates at 1280x720: run by scripts/gpu-bench.sh.

Times the default model's architecture, the realtime one (horse2zebra-rt) and the paper's
ResNet-9 (random weights: speed does not depend on them) with whatever this machine offers:

- onnxruntime with CUDAExecutionProvider: fp32 and fp16 graphs, IO binding (input and output
  stay on the GPU) and batches of several streams' frames; plus one plain session.run row
  (numpy in and out, the copies a server would pay without IO binding);
- onnxruntime's CPUExecutionProvider at batch 1 (intra-op threads = all cores);
- torch on CUDA (fp32 / fp16, cudnn.benchmark) with the same batches, as a cross-check and
  as the GPU path when onnxruntime has no CUDA provider.

A row's streams@30 = batch * floor(33.3 ms / ms per batch): streams served at 30 fps when
each batch holds one frame of each of `batch` streams and must finish within a frame interval.
Writes a summary to stdout and every row to --json. Stops adding rows after --budget_s.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

REPO_ROOT = Path(__file__).resolve().parents[2]
FRAME_MS = 1000 / 30


def log(msg: str) -> None:
    print(f'[gpu-bench] {msg}', file=sys.stderr, flush=True)


def default_preset() -> tuple:
    """(label, preset) of the shipped default model's architecture, else the planned one."""
    manifest = REPO_ROOT / 'models' / 'horse2zebra.json'
    if manifest.exists():
        arch = json.loads(manifest.read_text()).get('architecture', '')
        m = re.match(r'^(fast|resnet)-ngf(\d+)-b(\d+)', arch)
        if m:
            preset = f'{m.group(1)}{m.group(2)}x{m.group(3)}' if m.group(1) == 'fast' else f'resnet{m.group(3)}'
            return 'horse2zebra', preset
    return 'horse2zebra', 'fast32x9'


def export(preset: str, fp16: bool, work: Path) -> Path:
    out = work / f'{preset}-random{"-fp16" if fp16 else ""}.onnx'
    if not out.exists():
        cmd = [sys.executable, str(REPO_ROOT / 'scripts' / 'bench' / 'make-reference.py'), '--preset', preset, '--out', str(out)]
        if fp16:
            cmd.append('--fp16')
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


def time_it(fn, sync, budget_s: float, min_reps: int = 5, max_reps: int = 50, warmup: int = 3) -> tuple:
    for _ in range(warmup):
        fn()
    sync()
    samples = []
    start = time.perf_counter()
    while len(samples) < max_reps and (len(samples) < min_reps or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append((time.perf_counter() - t0) * 1000)
    return median(samples), len(samples)


def row(model, backend, precision, io, batch, ms, reps, note=''):
    streams = batch * int(FRAME_MS // ms) if ms > 0 else 0
    return {'model': model, 'backend': backend, 'precision': precision, 'io': io, 'batch': batch,
            'ms_per_batch': round(ms, 2), 'frames_per_s': round(batch * 1000 / ms, 1), 'streams_at_30fps': streams,
            'reps': reps, 'note': note}


def bench_ort(models, args, work, rows, deadline):
    import numpy as np
    import onnxruntime as ort
    available = ort.get_available_providers()
    log(f'onnxruntime {ort.__version__}, providers {available}')
    H, W = args.height, args.width
    cuda = 'CUDAExecutionProvider' in available
    for label, preset in models:
        for fp16 in ([False, True] if cuda else [False]):
            if time.time() > deadline:
                return
            precision = 'fp16' if fp16 else 'fp32'
            path = export(preset, fp16, work)
            dtype = np.float16 if fp16 else np.float32
            if cuda:
                try:
                    so = ort.SessionOptions()
                    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                    sess = ort.InferenceSession(str(path), so, providers=[('CUDAExecutionProvider', {'device_id': 0, 'cudnn_conv_algo_search': 'EXHAUSTIVE'}), 'CPUExecutionProvider'])
                except Exception as e:  # noqa: BLE001 - report and go on with the next configuration
                    rows.append({'model': label, 'backend': 'ort-cuda', 'precision': precision, 'error': str(e)[:200]})
                    continue
                # plain run: numpy in, numpy out (host <-> device copies included)
                x = (np.random.default_rng(0).random((1, 3, H, W), dtype=np.float32) * 2 - 1).astype(dtype)
                ms, reps = time_it(lambda: sess.run(['output'], {'input': x}), lambda: None, args.cell_s)
                rows.append(row(label, 'ort-cuda', precision, 'numpy', 1, ms, reps))
                log(f'{label} ort-cuda {precision} numpy b1: {ms:.2f} ms')
                for b in args.batches:
                    if time.time() > deadline:
                        return
                    try:
                        xb = ort.OrtValue.ortvalue_from_numpy((np.random.default_rng(b).random((b, 3, H, W), dtype=np.float32) * 2 - 1).astype(dtype), 'cuda', 0)
                        yb = ort.OrtValue.ortvalue_from_shape_and_type([b, 3, H, W], dtype, 'cuda', 0)
                        io = sess.io_binding()
                        io.bind_ortvalue_input('input', xb)
                        io.bind_ortvalue_output('output', yb)
                        ms, reps = time_it(lambda: sess.run_with_iobinding(io), io.synchronize_outputs, args.cell_s)
                    except Exception as e:  # noqa: BLE001 - e.g. out of memory at a large batch
                        rows.append({'model': label, 'backend': 'ort-cuda', 'precision': precision, 'batch': b, 'error': str(e)[:200]})
                        break
                    rows.append(row(label, 'ort-cuda', precision, 'iobinding', b, ms, reps))
                    log(f'{label} ort-cuda {precision} iobinding b{b}: {ms:.2f} ms')
                del sess
            if not fp16 and args.cpu_rows:
                so = ort.SessionOptions()
                so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                so.intra_op_num_threads = os.cpu_count() or 1
                sess = ort.InferenceSession(str(path), so, providers=['CPUExecutionProvider'])
                x = (np.random.default_rng(0).random((1, 3, H, W), dtype=np.float32) * 2 - 1)
                ms, reps = time_it(lambda: sess.run(['output'], {'input': x}), lambda: None, args.cell_s, min_reps=3, max_reps=10, warmup=1)
                rows.append(row(label, 'ort-cpu', precision, 'numpy', 1, ms, reps, f'{os.cpu_count()} threads'))
                log(f'{label} ort-cpu fp32 b1: {ms:.2f} ms')
                del sess


def bench_torch(models, args, rows, deadline):
    import torch
    if not torch.cuda.is_available():
        log('torch has no CUDA here; torch rows skipped')
        return
    sys.path.insert(0, str(REPO_ROOT / 'training'))
    from models import GENERATORS, PRESETS, init_weights  # noqa: E402
    torch.backends.cudnn.benchmark = True
    log(f'torch {torch.__version__} on {torch.cuda.get_device_name(0)}')
    H, W = args.height, args.width
    for label, preset in models:
        p = PRESETS[preset]
        for fp16 in (False, True):
            precision = 'fp16' if fp16 else 'fp32'
            torch.manual_seed(0)
            net = GENERATORS[p['gen']](ngf=p['ngf'], n_blocks=p['n_blocks'])
            init_weights(net)
            net = net.cuda().eval()
            dtype = torch.float16 if fp16 else torch.float32
            net = net.to(dtype)
            for b in args.batches:
                if time.time() > deadline:
                    return
                try:
                    x = torch.rand(b, 3, H, W, device='cuda', dtype=dtype) * 2 - 1
                    with torch.inference_mode():
                        ms, reps = time_it(lambda: net(x), torch.cuda.synchronize, args.cell_s)
                except torch.cuda.OutOfMemoryError as e:
                    rows.append({'model': label, 'backend': 'torch-cuda', 'precision': precision, 'batch': b, 'error': str(e)[:200]})
                    break
                rows.append(row(label, 'torch-cuda', precision, 'device', b, ms, reps))
                log(f'{label} torch-cuda {precision} b{b}: {ms:.2f} ms')
            del net
            torch.cuda.empty_cache()


def summary(rows, args, info) -> str:
    ok = [r for r in rows if 'error' not in r]
    lines = [f"== cyclestream GPU bench at {args.width}x{args.height} (HxW {args.height}x{args.width}): {info}",
             f"{'model':<22} {'backend':<11} {'prec':<5} {'io':<10} {'batch':>5} {'ms/batch':>9} {'frames/s':>9} {'streams@30':>10}"]
    for r in ok:
        lines.append(f"{r['model']:<22} {r['backend']:<11} {r['precision']:<5} {r['io']:<10} {r['batch']:>5} {r['ms_per_batch']:>9} {r['frames_per_s']:>9} {r['streams_at_30fps']:>10}")
    for r in rows:
        if 'error' in r:
            lines.append(f"{r['model']:<22} {r['backend']:<11} {r['precision']:<5} batch {r.get('batch', '-')}: ERROR {r['error']}")
    lines.append('best per model (streams x 30 fps at 1280x720, one GPU):')
    for model in dict.fromkeys(r['model'] for r in ok):
        best = max((r for r in ok if r['model'] == model), key=lambda r: (r['streams_at_30fps'], r['frames_per_s']))
        lines.append(f"  {model}: {best['streams_at_30fps']} streams x 30 fps ({best['backend']} {best['precision']} {best['io']} batch {best['batch']}, "
                     f"{best['ms_per_batch']} ms per batch, {best['frames_per_s']} frames/s)")
    return '\n'.join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--width', type=int, default=1280)
    ap.add_argument('--height', type=int, default=720)
    ap.add_argument('--batches', default='1,2,4,8,16', help='comma-separated batch sizes (streams per batch)')
    ap.add_argument('--cell_s', type=float, default=1.5, help='timing budget per row, seconds')
    ap.add_argument('--budget_s', type=float, default=420, help='stop adding rows after this many seconds')
    ap.add_argument('--work', default=os.environ.get('WORK', '/tmp/cyclestream-gpu-bench'), help='where the ONNX exports go')
    ap.add_argument('--json', default=None, help='write every row here')
    ap.add_argument('--no-cpu-rows', dest='cpu_rows', action='store_false', help='skip the onnxruntime CPU rows')
    ap.add_argument('--no-torch', dest='torch', action='store_false')
    args = ap.parse_args()
    args.batches = [int(b) for b in args.batches.split(',') if b.strip()]
    if args.width % 4 or args.height % 4:
        raise SystemExit('width and height must be multiples of 4')
    t0 = time.time()
    deadline = t0 + args.budget_s
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    models = [default_preset(), ('horse2zebra-rt', 'fast16x6'), ('resnet9 (reference)', 'resnet9')]
    models = [(f'{label} [{preset}]', preset) for label, preset in models]
    rows: list = []
    info = []
    try:
        import onnxruntime
        info.append(f'onnxruntime {onnxruntime.__version__} {onnxruntime.get_available_providers()}')
        bench_ort(models, args, work, rows, deadline)
    except ImportError:
        info.append('no python onnxruntime')
    if args.torch:
        try:
            import torch
            info.append(f"torch {torch.__version__}{' on ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else ' (no CUDA)'}")
            bench_torch(models, args, rows, deadline)
        except ImportError:
            info.append('no torch')
    if time.time() > deadline:
        info.append(f'STOPPED at the {args.budget_s:.0f} s budget; rows missing')
    text = summary(rows, args, '; '.join(info))
    print(text, flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({'width': args.width, 'height': args.height, 'info': info, 'rows': rows,
                                               'seconds': round(time.time() - t0, 1)}, indent=2) + '\n')
    log(f'done in {time.time() - t0:.0f} s')


if __name__ == '__main__':
    main()
