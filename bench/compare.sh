#!/usr/bin/env bash
# Measures chainstore and its two peers side by side, in one run on one machine, and prints
# the ratios BENCHMARKS.md opens with:
#   - the HTTP floor: `loadtest floor`, bare warp answering the same deduction JSON from
#     memory, driven by the same wrk script as chainstore's pos;
#   - PostgreSQL 15 with synchronous commit: the same deduction (idempotency table, no
#     overdraft, one function) and the same 99-occurrence weekly plan into a GiST exclusion
#     constraint (bench/peers/postgres.sql), driven by pgbench with 64 clients.
# Then an open loop at half of chainstore's pos maximum, with every fdatasync traced, so the
# server's tail can be set against the disk's.
#
# Usage: bench/compare.sh [SECS]        (default 10 s a run; WORK=dir for the scratch space)
set -euo pipefail

SECS=${1:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chainstore/target}
T=$CARGO_TARGET_DIR/release
W=${WORK:-/tmp/chainstore-compare}
PGBIN=/usr/lib/postgresql/15/bin
PGPORT=55432
STORES=10 RESOURCES=1000 MEMBERS=10000 CONNS=64
SERVER=127.0.0.1:18090 FLOOR=127.0.0.1:18099
export CHAINSTORE_TOKEN=benchkey
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

need() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
if ! need wrk || ! need "$PGBIN/pgbench" || ! need perf || ! need python3; then
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk postgresql-15 \
        postgresql-contrib linux-perf python3 >/dev/null
fi
(cd "$ROOT" && cargo build --release --workspace --bins --examples -q)

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ -f "$W/pg/postmaster.pid" ]; then as_pg "$PGBIN/pg_ctl" -D "$W/pg" -m immediate stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
# PostgreSQL refuses to run as root.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

rm -rf "$W" && mkdir -p "$W" && chmod 777 "$W"
cd "$W"

# ---- chainstore ---------------------------------------------------------------------------
wait_listening() { for _ in $(seq 200); do grep -q "listening on" "$1" 2>/dev/null && return; sleep 0.05; done; echo "no server: $1" >&2; exit 1; }
"$T/chainstore" --config "$ROOT/config/default.toml" --listen $SERVER --data-dir "$W/data" \
    --admin-key benchkey >"$W/server.log" 2>&1 &
PIDS+=($!); CS=$!
wait_listening "$W/server.log"
"$T/loadtest" --server http://$SERVER seed --stores $STORES --resources $RESOURCES \
    --members $MEMBERS --out chain.json >/dev/null
"$T/loadtest" wrk-script --chain chain.json --out pos.lua

wrk_rps() { wrk -t2 -c$CONNS -d"${SECS}s" --latency -s pos.lua "http://$1" >"$2"; awk '/Requests\/sec/ {print $2}' "$2"; }
wrk_p99() { awk '$1 == "99%" {print $2}' "$1"; }
lt() { # scenario connections -> operations/s and p99 µs of the load tool's report
    "$T/loadtest" --server http://$SERVER run --chain chain.json --scenario "$1" \
        --connections "$2" --seconds "$SECS" --out "lt-$1.json" >/dev/null
    python3 -c "import json,sys; r=json.load(open('lt-$1.json')); assert r['check']=='passed', r['check']; print('%.0f %d' % (r['operations_per_s'], r['latency_us']['p99']))"
}

CS_POS=$(wrk_rps $SERVER wrk-chainstore.txt); CS_POS_P99=$(wrk_p99 wrk-chainstore.txt)
read -r CS_POS_LT CS_POS_LT_P99 <<<"$(lt pos $CONNS)"
# Open loop at half the load tool's own pos maximum (it paces from intended send times, and
# costs more CPU than wrk on the same two cores), every fdatasync of the server traced.
RATE=$(python3 -c "print(int(float('$CS_POS_LT') / 2))")
curl -s -H "authorization: Bearer benchkey" http://$SERVER/metrics >metrics-before.txt
perf trace -e fdatasync,fsync -p $CS -o trace.txt & TRACE=$!
"$T/loadtest" --server http://$SERVER run --chain chain.json --scenario pos --rate "$RATE" \
    --connections 128 --seconds "$SECS" --out lt-open.json >/dev/null
# perf flushes its output on SIGINT, which a background job of a script may ignore: TERM too.
kill -INT $TRACE 2>/dev/null; sleep 1; kill -TERM $TRACE 2>/dev/null || true
wait $TRACE 2>/dev/null || true
curl -s -H "authorization: Bearer benchkey" http://$SERVER/metrics >metrics-after.txt
# The heavy scenarios last: their compaction debt would fall on the open loop's tail.
read -r CS_HOT CS_HOT_P99 <<<"$(lt hot $CONNS)"
read -r CS_BATCH _ <<<"$(lt batch 16)"
read -r CS_PLANS CS_PLANS_P99 <<<"$(lt plans $CONNS)"

kill $CS; wait $CS 2>/dev/null || true

# ---- the HTTP floor -----------------------------------------------------------------------
"$T/loadtest" floor --listen $FLOOR >"$W/floor.log" 2>&1 &
PIDS+=($!); FL=$!
wait_listening "$W/floor.log"
FLOOR_POS=$(wrk_rps $FLOOR wrk-floor.txt); FLOOR_P99=$(wrk_p99 wrk-floor.txt)
kill $FL

# ---- PostgreSQL 15, synchronous commit ----------------------------------------------------
mkdir -p "$W/pg" "$W/pgsock" && chmod 700 "$W/pg" && chown postgres "$W/pg" "$W/pgsock" 2>/dev/null || true
as_pg "$PGBIN/initdb" -D "$W/pg" -U bench --auth=trust >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$W/pg" -l "$W/pg.log" -w start -o "-p $PGPORT -k $W/pgsock \
    -c listen_addresses='' -c synchronous_commit=on -c fsync=on -c max_connections=200 \
    -c shared_buffers=256MB" >/dev/null
PSQL=(as_pg psql -q -h "$W/pgsock" -p $PGPORT -U bench)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench" >/dev/null
"${PSQL[@]}" -d bench -f "$ROOT/bench/peers/postgres.sql" >/dev/null
"${PSQL[@]}" -d bench -c "INSERT INTO account (member, balance) SELECT g, 100000000 FROM generate_series(1, $MEMBERS) g" >/dev/null
pgb() { as_pg "$PGBIN/pgbench" -h "$W/pgsock" -p $PGPORT -U bench -n -c $CONNS -j 2 -T "$SECS" \
    -D members=$MEMBERS -D resources=$RESOURCES -f "$ROOT/bench/peers/$1.pgbench" bench 2>/dev/null \
    | awk '/^tps/ {print $3}'; }
PG_DEDUCT=$(pgb deduct); PG_HOT=$(pgb hot); PG_PLAN=$(pgb plan)

# ---- the table ----------------------------------------------------------------------------
python3 - "$CS_POS" "$CS_POS_P99" "$FLOOR_POS" "$FLOOR_P99" "$CS_HOT" "$CS_BATCH" "$CS_PLANS" \
    "$PG_DEDUCT" "$PG_HOT" "$PG_PLAN" "$RATE" "$CS_POS_LT" "$CS_POS_LT_P99" <<'EOF'
import json, re, sys
(cs_pos, cs_p99, fl_pos, fl_p99, cs_hot, cs_batch, cs_plans, pg_ded, pg_hot, pg_plan, rate, cs_lt, cs_lt_p99) = sys.argv[1:]
f = float

def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float('nan')

syncs = [f(m.group(1)) for m in re.finditer(r'\(\s*([\d.]+) ms\): \S+ f(?:data)?sync', open('trace.txt').read())]

def deduction_buckets(path):
    out = {}
    for line in open(path):
        if line.startswith('http_request_duration_seconds_bucket') and '/deductions"' in line:
            le = re.search(r'le="([^"]+)"', line).group(1)
            out[le] = out.get(le, 0) + f(line.rsplit(' ', 1)[1])
    return out
before, after = deduction_buckets('metrics-before.txt'), deduction_buckets('metrics-after.txt')
delta = sorted(((f(le) if le != '+Inf' else float('inf')), after[le] - before.get(le, 0)) for le in after)
total = delta[-1][1] if delta else 0
def server_q(q):  # upper bound of the bucket holding quantile q, ms
    for le, n in delta:
        if total and n >= q * total:
            return le * 1000
    return float('nan')
lt = json.load(open('lt-open.json'))

print(f"| measure | chainstore | peer | ratio | goal |")
print(f"|---|---|---|---|---|")
print(f"| pos, wrk 64 conns, req/s (p99) | {f(cs_pos):,.0f} ({cs_p99}) | HTTP floor {f(fl_pos):,.0f} ({fl_p99}) | {f(cs_pos)/f(fl_pos):.2f}x | 0.56x, p99 < 10 ms |")
print(f"| pos, load tool 64 conns, ops/s (p99) | {f(cs_lt):,.0f} ({int(cs_lt_p99)/1000:.1f}ms) | | | |")
print(f"| pos (wrk) vs PostgreSQL deduction, tps | {f(cs_pos):,.0f} | {f(pg_ded):,.0f} | {f(cs_pos)/f(pg_ded):.1f}x | |")
print(f"| hot account, ops/s | {f(cs_hot):,.0f} | {f(pg_hot):,.0f} | {f(cs_hot)/f(pg_hot):.1f}x | 23x |")
print(f"| batch, 1,000 ops a request, ops/s | {f(cs_batch):,.0f} | | | 300,000 |")
print(f"| plans, 99 weekly, plans/s | {f(cs_plans):,.0f} | {f(pg_plan):,.0f} | {f(cs_plans)/f(pg_plan):.1f}x | 19x |")
print()
print(f"Open loop at {int(rate):,}/s (half the load tool's pos maximum): {len(syncs)} fdatasync calls, "
      f"p50 {quantile(syncs, .5):.2f} ms, p99 {quantile(syncs, .99):.2f} ms, p99.9 {quantile(syncs, .999):.2f} ms, max {max(syncs, default=float('nan')):.2f} ms")
print(f"server's own deduction latency (bucket upper bounds): p99 <= {server_q(.99):.1f} ms, p99.9 <= {server_q(.999):.1f} ms"
      f" (goal: sync p99 + 1 ms, sync p99.9 + 2 ms)")
l = lt['latency_us']
print(f"load tool from intended send time: p50 {l['p50']/1000:.2f} ms, p99 {l['p99']/1000:.2f} ms, p99.9 {l['p99.9']/1000:.2f} ms; audit {lt['check']}")
EOF
