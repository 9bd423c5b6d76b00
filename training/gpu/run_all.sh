#!/usr/bin/env bash
# Trains the shipped models on the GPU machine (device tool), from the repo root:
#   bash training/gpu/run_all.sh            (run with carry [".gpu"]; data staged by stage_data.py)
# Both CycleGAN runs (horse2zebra, summer2winter_yosemite) train IN PARALLEL as two processes on the
# one GPU, each with a wall-clock budget of BUDGET_MIN minutes that includes the LR decay to 0; then
# the four generators are exported to ONNX (parity-checked with onnxruntime) and everything that must
# come back is packed into $OUT/results.tar.gz (split into <=15 MiB parts when larger).
# A local CPU dry run of the same script (small crops, so that a CPU gets through some steps):
#   OUT=/tmp/out BUDGET_MIN=0.5 PYTHON=/usr/bin/python3 EXTRA='--load_px 72 --crop_px 64 --max_images 40' bash training/gpu/run_all.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/out}
BUDGET_MIN=${BUDGET_MIN:-6.5}
PYTHON=${PYTHON:-python3}
WORK=${WORK:-runs/gpu}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK"

NOTE='trained on all trainA/trainB images, re-encoded as WebP quality 70 (method 6, 256x256, by training/gpu/stage_data.py) to fit the GPU transfer'
# batch 4: on an H200 a step of these small nets is bound by kernel launches, so 4 images cost
# about what 1 does. channels_last stays off (InstanceNorm would copy layouts back and forth).
COMMON=(--gen fast --ngf 32 --n_blocks 9 --preload --batch_size 4 --load_px 286 --crop_px 256
        --time_budget_min "$BUDGET_MIN" --budget_measure_s 20 --log_every 100 --no-channels_last)
# EXTRA: more train.py arguments, e.g. for a quick CPU dry run:
#   EXTRA='--load_px 72 --crop_px 64 --max_images 40 --batch_size 2'
read -r -a EXTRA_ARGS <<< "${EXTRA:-}"
COMMON+=("${EXTRA_ARGS[@]}")
BUDGET_S=$(awk "BEGIN{print int($BUDGET_MIN*60)}")

train() {  # name dataset domain_a domain_b sample_every ckpt_every [extra args...]
  local name=$1 ds=$2 a=$3 b=$4 se=$5 ce=$6
  shift 6
  mkdir -p "$WORK/$name"
  # hard stop a minute after the budget: SIGINT makes train.py save a checkpoint and final.pt
  timeout -k 30 -s INT $((BUDGET_S + 60)) "$PYTHON" -m training.train "${COMMON[@]}" \
    --dataset ".gpu/datasets/$ds" --domain_a "$a" --domain_b "$b" --out_dir "$WORK/$name" \
    --sample_every_epochs "$se" --ckpt_every_epochs "$ce" --dataset_note "$NOTE" "$@" \
    2>&1 | tee "$WORK/$name/train.log" | sed -u "s/^/[$name] /"
}

export_one() {  # name direction id title
  "$PYTHON" -m training.export --checkpoint "$WORK/$1/final.pt" --direction "$2" --id "$3" --title "$4" \
    --models_dir "$WORK/models" --no-validate 2>&1 | sed -u "s/^/[export $3] /"
}

main() {
  echo "== $(date -u +%FT%TZ) host $(hostname), budget ${BUDGET_MIN} min per run"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi (CPU dry run)"
  "$PYTHON" -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  du -sh .gpu/datasets/* 2>/dev/null
  local t0=$SECONDS
  train horse2zebra horse2zebra horse zebra 2 5 &
  local p1=$!
  train summer2winter summer2winter_yosemite summer winter 8 25 &
  local p2=$!
  # LEAD NOTE: a realtime-sized horse2zebra (ngf 16, 6 blocks, ~0.49 G MACs) trained alongside:
  # the live target is >=30 fps at 640x480 on 2 CPU cores and >=15x faster than ResNet-9, which
  # the ngf 32 x 9 net (1.88 G MACs, ~60+ ms/frame on CPU) cannot meet. Evaluate both; the app
  # default is whichever fast one passes the quality bar.
  train horse2zebra_rt horse2zebra horse zebra 2 5 --ngf 16 --n_blocks 6 &
  local p3=$!
  wait $p1; local rc1=$?
  wait $p2; local rc2=$?
  wait $p3; local rc3=$?
  echo "== training done in $((SECONDS - t0)) s (rc $rc1 $rc2 $rc3)"

  export OMP_NUM_THREADS=4
  export_one horse2zebra AB horse2zebra 'Horse → Zebra' &
  export_one horse2zebra BA zebra2horse 'Zebra → Horse' &
  export_one summer2winter AB summer2winter 'Summer → Winter (Yosemite)' &
  export_one summer2winter BA winter2summer 'Winter → Summer (Yosemite)' &
  export_one horse2zebra_rt AB horse2zebra-rt 'Horse → Zebra (realtime)' &
  export_one horse2zebra_rt BA zebra2horse-rt 'Zebra → Horse (realtime)' &
  wait
  echo "== export done at $((SECONDS - t0)) s"

  # pack what must come back: final generators, loss CSVs, logs, ONNX, and at most 8 sample grids
  # per run (full checkpoints with discriminators and Adam state are ~75 MB each and stay here)
  local list="$WORK/pack.txt"
  : > "$list"
  for name in horse2zebra summer2winter horse2zebra_rt; do
    for f in final.pt losses.csv train.log; do
      [ -f "$WORK/$name/$f" ] && echo "$name/$f" >> "$list"
    done
    if [ -d "$WORK/$name/samples" ]; then
      (cd "$WORK" && ls "$name"/samples/epoch_*.png 2>/dev/null | awk '{a[NR]=$0} END{n=NR; k=(n>7?7:n); for(i=1;i<=k;i++) print a[int(i*n/k)]}') >> "$list"
      ls "$WORK/$name"/samples/final.png "$WORK/$name"/samples/step_*.png 2>/dev/null | sed "s|^$WORK/||" >> "$list"
    fi
  done
  [ -d "$WORK/models" ] && (cd "$WORK" && ls models/*) >> "$list"
  sort -u "$list" -o "$list"
  tar czf "$OUT/results.tar.gz" -C "$WORK" -T "$list"
  if [ "$(stat -c %s "$OUT/results.tar.gz")" -gt $((15 * 1024 * 1024)) ]; then
    split -b 15M -d "$OUT/results.tar.gz" "$OUT/results.tar.gz.part"
    rm "$OUT/results.tar.gz"
  fi
  ls -la "$OUT"
  echo "== all done in $((SECONDS - t0)) s"
}

main 2>&1 | tee "$OUT/log.txt"
