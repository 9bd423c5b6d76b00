#!/usr/bin/env bash
# The prepared GPU run for the horse <-> zebra students (device tool: 15 minutes in all, start-up
# included, so this stays under about 10). From the repo root:
#   /usr/bin/python3 -m training.gpu.stage_data --teacher   here, once: train images (WebP) and the teacher in .gpu/
#   bash training/gpu/distill_run.sh                        on the device, with carry [".gpu"]
# 1. scripts/gpu-bench.sh, cut at GPU_BENCH_BUDGET_S (default 150) seconds.
# 2. Three distillations side by side on the one GPU, the teacher on the fly (no cache), batch 32,
#    bf16 and channels_last, each with a BUDGET_MIN (default 5) minute wall clock, decay included:
#      hq   horse2zebra-hq goes on from the shipped ONNX at 256 px, with an LSGAN against real zebras
#      rt   a realtime student (0.45 G MACs) from the teacher's slices, with the feature loss
#      z2h  zebra -> horse: a reverse rt student from pseudo-pairs, a cycle through the teacher, an LSGAN
#    No curve on the device (its Python may lack an ONNX Runtime for the judge): the checkpoints come back
#    and are exported and judged here (npm run export / npm run evaluate).
# 3. $OUT/log.txt, and $OUT/results.tar.gz (in 15 MiB parts when larger) with each run's final.pt, log.csv and
#    console log. Here: cat results.tar.gz.part* | tar xzf - -C runs/gpu-distill
# CPU dry run of the same script (tiny crops and batches, the shared datasets, no bench):
#   DRY=1 OUT=/tmp/out BUDGET_MIN=1.2 bash training/gpu/distill_run.sh   (loading the images takes ~30 s of it)
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/out}
BUDGET_MIN=${BUDGET_MIN:-5}
WORK=${WORK:-runs/gpu-distill}
PYTHON=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK"

if [ -n "${DRY:-}" ]; then
  PYTHON=/usr/bin/python3
  DATA=(--dataset horse2zebra --scenes summer2winter_yosemite)
  RUN=(--device cpu --threads 1 --batch_size 2 --crop_px 64 --cache_size 0 --eval_images 0 --log_every 2)
else
  export CYCLESTREAM_TEACHERS=.gpu/teachers
  DATA=(--dataset .gpu/datasets/horse2zebra --scenes .gpu/datasets/summer2winter_yosemite)
  RUN=(--device cuda --batch_size 32 --cache_size 0 --eval_images 0 --log_every 50 --ckpt_every 500)
fi

distill() {  # name [distill.py arguments...]
  local name=$1
  shift
  # a hard stop a minute after the budget; the run saves ckpt.pt every --ckpt_every steps
  timeout -k 20 $(awk "BEGIN{print int($BUDGET_MIN*60)+60}") "$PYTHON" -m training.distill "${DATA[@]}" "${RUN[@]}" \
    --time_budget_min "$BUDGET_MIN" --out_dir "$WORK/$name" "$@" 2>&1 | tee "$WORK/$name.log" | sed -u "s/^/[$name] /"
}

main() {
  echo "== $(date -u +%FT%TZ) host $(hostname), budget ${BUDGET_MIN} min per run"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  "$PYTHON" -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  local t0=$SECONDS
  if [ -z "${DRY:-}" ]; then
    GPU_BENCH_BUDGET_S=${GPU_BENCH_BUDGET_S:-150} OUT="$OUT" timeout -k 10 240 bash scripts/gpu-bench.sh
    echo "== bench done at $((SECONDS - t0)) s"
  fi
  distill hq --student hq --init models/horse2zebra-hq.onnx --lr 1e-4 --lambda_gan 0.1 &
  distill rt --student rt &
  distill z2h --student rt --reverse --feat_taps 0 --extra_b 0 --lambda_cycle 1 --lambda_gan 0.1 &
  wait
  echo "== distillation done at $((SECONDS - t0)) s"
  local list="$WORK/pack.txt"
  : > "$list"
  for name in hq rt z2h; do
    # final.pt, or the last ckpt.pt of a run that the hard stop cut short
    if [ -f "$WORK/$name/final.pt" ]; then echo "$name/final.pt" >> "$list"
    elif [ -f "$WORK/$name/ckpt.pt" ]; then echo "$name/ckpt.pt" >> "$list"; fi
    for f in "$name/log.csv" "$name.log"; do
      [ -f "$WORK/$f" ] && echo "$f" >> "$list"
    done
  done
  tar czf "$OUT/results.tar.gz" -C "$WORK" -T "$list"
  if [ "$(stat -c %s "$OUT/results.tar.gz")" -gt $((15 * 1024 * 1024)) ]; then  # what comes back is capped per file
    split -b 15M -d "$OUT/results.tar.gz" "$OUT/results.tar.gz.part"
    rm "$OUT/results.tar.gz"
  fi
  ls -la "$OUT"
  echo "== all done in $((SECONDS - t0)) s"
}

main 2>&1 | tee "$OUT/log.txt"
