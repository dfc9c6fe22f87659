#!/usr/bin/env bash
# A chain of 1,000 stores, 10,000 resources and 1,000,000 members: seed it over the API, run
# 20 s of pos, SIGKILL the server, start it again and time it to serving /healthz; print
# resident memory at each step. About 2 minutes on two cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=${CARGO_TARGET_DIR:-$HOME/.cache/chainstore/target}/release
W=${WORK:-/tmp/chainstore-big} SERVER=127.0.0.1:18092
export CHAINSTORE_TOKEN=benchkey
rm -rf "$W" && mkdir -p "$W" && cd "$W"
start() {
    "$T/chainstore" --config "$ROOT/config/default.toml" --listen $SERVER --data-dir "$W/data" \
        --admin-key benchkey >>server.log 2>&1 &
    P=$!
}
rss() { echo "$(($(awk '/VmRSS/ {print $2}' /proc/$P/status) / 1024)) MiB"; }
start
trap 'kill $P 2>/dev/null || true' EXIT
until curl -sf http://$SERVER/healthz >/dev/null; do sleep 0.05; done
"$T/loadtest" --server http://$SERVER seed --stores 1000 --resources 10000 --members 1000000 \
    --concurrency 128 --out big.json 2>&1 | tail -1
echo "RSS after seeding: $(rss)"
"$T/loadtest" --server http://$SERVER run --chain big.json --scenario pos --connections 64 \
    --seconds 20 --out pos.json >/dev/null 2>&1
python3 -c "import json; r=json.load(open('pos.json')); print('pos:', round(r['operations_per_s']), 'ops/s, p99', r['latency_us']['p99'], 'us, audit', r['check'])"
echo "RSS after pos: $(rss)"
kill -9 $P; wait $P 2>/dev/null || true
began=$(date +%s.%N)
start
until curl -sf http://$SERVER/healthz >/dev/null; do sleep 0.05; done
ended=$(date +%s.%N)
echo "restart after SIGKILL to /healthz: $(python3 -c "print(round($ended - $began, 2))") s, RSS $(rss), data $(du -sm "$W/data" | cut -f1) MiB"
