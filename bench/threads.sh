#!/usr/bin/env bash
# Server CPU per acknowledged operation, by thread (HTTP + actors, journal, RocksDB's
# background jobs), over one load-tool run on a fresh, seeded server:
#   bench/threads.sh SCENARIO [CONNECTIONS] [SECS]      e.g. bench/threads.sh pos 64 8
# Set CONFIG=path to compare configurations (e.g. server.http_on_actor_threads = false).
set -euo pipefail
SCENARIO=${1:-pos} CONNS=${2:-64} SECS=${3:-8}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=${CARGO_TARGET_DIR:-$HOME/.cache/chainstore/target}/release
W=${WORK:-/tmp/chainstore-threads} SERVER=127.0.0.1:18091
export CHAINSTORE_TOKEN=benchkey
rm -rf "$W" && mkdir -p "$W" && cd "$W"
"$T/chainstore" --config "${CONFIG:-$ROOT/config/default.toml}" --listen $SERVER \
    --data-dir "$W/data" --admin-key benchkey >server.log 2>&1 &
P=$!
trap 'kill $P 2>/dev/null || true' EXIT
for _ in $(seq 200); do grep -q "listening on" server.log && break; sleep 0.05; done
"$T/loadtest" --server http://$SERVER seed --stores 10 --resources 1000 --members 10000 \
    --out chain.json >/dev/null 2>&1
snap() { for t in /proc/$P/task/*; do echo "$(tr ' ' _ <"$t/comm") $(awk '{print $14+$15}' "$t/stat")"; done |
    awk '{a[$1]+=$2} END {for (k in a) print k, a[k]}' | sort; }
snap >before.txt
"$T/loadtest" --server http://$SERVER run --chain chain.json --scenario "$SCENARIO" \
    --connections "$CONNS" --seconds "$SECS" --out run.json >/dev/null 2>&1
snap >after.txt
read -r N RATE CHECK < <(python3 -c "import json; r=json.load(open('run.json')); print(r['acknowledged'], round(r['operations_per_s']), r['check'])")
echo "$SCENARIO: $RATE ops/s, audit $CHECK"
TICK_MS=$((1000 / $(getconf CLK_TCK)))
join before.txt after.txt | awk -v n="$N" -v t="$TICK_MS" '{d=($3-$2)*t; tot+=d; if (d>0) printf "  %-16s %6d ms  %6.2f us/op\n", $1, d, d*1000/n}
    END {printf "  %-16s %6d ms  %6.2f us/op\n", "total", tot, tot*1000/n}'
