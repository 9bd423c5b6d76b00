#!/usr/bin/env bash
# Tries cluster mode on one machine: a private redis-server and two cyclestream nodes sharing
# one DATA_DIR and the models folder. Ctrl-C stops all three.
#   scripts/cluster.sh            # nodes on :3000 (a) and :3001 (b), Redis on :6390
#   REDIS_PORT=6391 BASE_PORT=4000 scripts/cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."

REDIS_PORT="${REDIS_PORT:-6390}"
BASE_PORT="${BASE_PORT:-3000}"
export DATA_DIR="${DATA_DIR:-$PWD/data-cluster}"
command -v redis-server >/dev/null || { echo "redis-server is missing: apt-get install -y redis-server" >&2; exit 1; }
mkdir -p "$DATA_DIR"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# No persistence: job records live in DATA_DIR, and the nodes enqueue them again after a Redis restart.
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --dir "$DATA_DIR" >"$DATA_DIR/redis.log" 2>&1 &
pids+=($!)
until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.1; done

export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
for i in 0 1; do
  id=$([ "$i" = 0 ] && echo a || echo b)
  port=$((BASE_PORT + i))
  PORT=$port NODE_ID=$id PUBLIC_URL="http://localhost:$port" npm start --silent &
  pids+=($!)
  # One at a time: the first start may build the web app, and two builds must not race.
  until curl -fs "http://localhost:$port/api/health" >/dev/null; do sleep 0.5; done
done
echo "redis $REDIS_URL; nodes http://localhost:$BASE_PORT (a) and http://localhost:$((BASE_PORT + 1)) (b); data in $DATA_DIR"
wait
