#!/usr/bin/env bash
# One prepared benchmark for a GPU machine (NVIDIA H200, 16 cores, python3 with torch + CUDA,
# onnx and onnxruntime, no node), from the repo root:
#   bash scripts/gpu-bench.sh                       (device run: writes $OUT/gpu-bench.{txt,json})
# It prints how many 1280x720 streams at 30 fps one machine translates, for the default model's
# architecture, the realtime one and the paper's ResNet-9 (random weights; speed does not depend
# on them), with onnxruntime CUDA (fp32/fp16, IO binding, batches across streams) where the
# installed onnxruntime has CUDAExecutionProvider, onnxruntime CPU at batch 1, and torch CUDA.
# See scripts/bench/gpu_bench.py for what each row means.
#
# Where Python has no onnxruntime and torch has no CUDA (this project's 2-core dev machine),
# it falls back to node: `npm run bench -- --only model,reference --sizes 720x1280 --per-architecture` (onnxruntime-node,
# CPU provider, main thread and inference worker) and prints the same streams x fps summary.
#
# Env: OUT (default /tmp/out), PYTHON (default: the first of python3, /usr/bin/python3 that imports
# torch), GPU_BENCH_BUDGET_S (default 420: rows stop after that), GPU_BENCH_BATCHES (default 1,2,4,8,16),
# GPU_BENCH_SIZE (HxW, default 720x1280). Exit status is non-zero only when nothing could be measured.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}
BUDGET_S=${GPU_BENCH_BUDGET_S:-420}
BATCHES=${GPU_BENCH_BATCHES:-1,2,4,8,16}
SIZE=${GPU_BENCH_SIZE:-720x1280}
H=${SIZE%x*}
W=${SIZE#*x}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

pick_python() {
  for p in ${PYTHON:-} python3 /usr/bin/python3; do
    if [ -n "$p" ] && "$p" -c 'import torch' >/dev/null 2>&1; then echo "$p"; return 0; fi
  done
  return 1
}

main() {
  echo "== $(date -u +%FT%TZ) $(hostname), $(nproc) cores"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  local py
  py=$(pick_python) || py=""
  local has_ort=no has_cuda=no
  if [ -n "$py" ]; then
    "$py" -c 'import onnxruntime' >/dev/null 2>&1 && has_ort=yes
    "$py" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1 && has_cuda=yes
    echo "python $py: torch $("$py" -c 'import torch; print(torch.__version__)'), cuda $has_cuda, onnxruntime $has_ort"
    [ "$has_ort" = yes ] && "$py" -c 'import onnxruntime as o; print("onnxruntime", o.__version__, "providers", o.get_available_providers())'
  fi

  if [ -n "$py" ] && { [ "$has_ort" = yes ] || [ "$has_cuda" = yes ]; }; then
    "$py" scripts/bench/gpu_bench.py --width "$W" --height "$H" --batches "$BATCHES" --budget_s "$BUDGET_S" \
      --json "$OUT/gpu-bench.json"
    return $?
  fi

  if ! command -v node >/dev/null 2>&1; then
    echo "nothing to measure with: no python onnxruntime, no CUDA torch, no node" >&2
    return 1
  fi
  echo "no python onnxruntime and no CUDA: measuring with onnxruntime-node on the CPU (npm run bench)"
  node --import tsx scripts/bench.ts --only model,reference --sizes "${H}x${W}" --per-architecture --json > "$OUT/gpu-bench.json" || return $?
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const m = r.machine;
    console.log(`== cyclestream bench at ${process.argv[2]} (HxW), CPU only: ${m.cpu}, ${m.cores} cores, onnxruntime-node ${m.onnxruntime} (${m.provider}), load ${m.loadAverage}`);
    const rows = [...(r.model?.timings ?? []), ...(r.reference?.timings ?? [])];
    console.log("model".padEnd(18), "thread".padEnd(7), "batch", "ms/frame".padStart(9), "frames/s".padStart(9), "streams@30".padStart(10));
    for (const t of rows) {
      const streams = Math.floor(33.333 / t.msPerFrame);
      console.log(t.model.padEnd(18), t.mode.padEnd(7), "    1", String(t.msPerFrame).padStart(9), String(t.fps).padStart(9), String(streams).padStart(10));
    }
    if (r.reference?.resnet9_over_default) console.log("resnet9_ms / default_ms:", JSON.stringify(r.reference.resnet9_over_default));
  ' "$OUT/gpu-bench.json" "${H}x${W}"
}

main 2>&1 | tee "$OUT/gpu-bench.txt"
exit "${PIPESTATUS[0]}"
