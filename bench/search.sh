#!/usr/bin/env bash
# Member search at 1,000,000 members (issue 24): seed a chain of 100 stores over the API, run
# the load tool's search scenario, then PostgreSQL 15 with the same rows and indexes (phone
# and lower(name) with text_pattern_ops, (home, id)) and the same three queries through
# pgbench (bench/peers/search.pgbench). Prints searches/s and the ratio. About 5 minutes on
# two cores.
#
# Usage: bench/search.sh [SECS] [MEMBERS]      (defaults 20 s, 1,000,000)
set -euo pipefail
SECS=${1:-20} MEMBERS=${2:-1000000} STORES=100 CONNS=64
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/chainstore/target}
T=$CARGO_TARGET_DIR/release
W=${WORK:-/tmp/chainstore-search} SERVER=127.0.0.1:18093
PGBIN=/usr/lib/postgresql/15/bin PGPORT=55433
export CHAINSTORE_TOKEN=benchkey
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
if [ ! -x "$PGBIN/pgbench" ]; then
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 python3 >/dev/null
fi
(cd "$ROOT" && cargo build --release --workspace --bins --examples -q)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ -f "$W/pg/postmaster.pid" ]; then as_pg "$PGBIN/pg_ctl" -D "$W/pg" -m immediate stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
rm -rf "$W" && mkdir -p "$W" && chmod 777 "$W" && cd "$W"

"$T/chainstore" --config "$ROOT/config/default.toml" --listen $SERVER --data-dir "$W/data" \
    --admin-key benchkey >"$W/server.log" 2>&1 &
PIDS+=($!); CS=$!
until curl -sf http://$SERVER/healthz >/dev/null; do sleep 0.05; done
began=$(date +%s)
"$T/loadtest" --server http://$SERVER seed --stores $STORES --resources 0 --members "$MEMBERS" \
    --balance 0 --concurrency 128 --out chain.json >/dev/null
echo "seeded $MEMBERS members in $(( $(date +%s) - began )) s"
"$T/loadtest" --server http://$SERVER run --chain chain.json --scenario search \
    --connections $CONNS --seconds "$SECS" --out search.json >/dev/null 2>&1
read -r CS_OPS CS_P50 CS_P99 <<<"$(python3 -c "import json; r=json.load(open('search.json')); print('%.0f %d %d' % (r['operations_per_s'], r['latency_us']['p50'], r['latency_us']['p99']))")"
q() { curl -s -o /dev/null -w '%{time_total}' -H "authorization: Bearer benchkey" "http://$SERVER/v1/members/search?$1"; }
echo "one request each, s: phone prefix $(q 'phone_prefix=1234567&limit=20'), name prefix $(q 'name_prefix=member%2012345&limit=20'), home store $(q 'home_store_id=7&limit=20'), worst filter (every member scanned for balance >= 1, one page) $(q 'balance_min=1&limit=20'), a home store sorted by balance (its $((MEMBERS / STORES)) members ranked) $(q 'home_store_id=7&sort=-balance&limit=20'), lapsed members of a home store by last visit $(q 'home_store_id=7&visited_before=2026-01-01T00:00:00Z&sort=last_visit&limit=20')"
kill $CS; wait $CS 2>/dev/null || true

mkdir -p "$W/pg" "$W/pgsock" && chmod 700 "$W/pg" && chown postgres "$W/pg" "$W/pgsock" 2>/dev/null || true
as_pg "$PGBIN/initdb" -D "$W/pg" -U bench --auth=trust >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$W/pg" -l "$W/pg.log" -w start -o "-p $PGPORT -k $W/pgsock \
    -c listen_addresses='' -c max_connections=200 -c shared_buffers=256MB" >/dev/null
PSQL=(as_pg psql -q -h "$W/pgsock" -p $PGPORT -U bench)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench" >/dev/null
"${PSQL[@]}" -d bench >/dev/null <<SQL
CREATE TABLE member (id bigint PRIMARY KEY, phone text NOT NULL UNIQUE, name text NOT NULL,
                     home int NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE account (member bigint PRIMARY KEY, balance bigint NOT NULL);
INSERT INTO member (id, phone, name, home)
    SELECT g, '1' || lpad(((g::bigint * 7919) % 10000000000)::text, 10, '0'), 'Member ' || g, g % $STORES + 1
    FROM generate_series(0, $MEMBERS - 1) g;
INSERT INTO account SELECT id, 0 FROM member;
CREATE INDEX member_phone ON member (phone text_pattern_ops);
CREATE INDEX member_name ON member (lower(name) text_pattern_ops);
CREATE INDEX member_home ON member (home, id);
VACUUM ANALYZE;
SQL
PG_OPS=$(as_pg "$PGBIN/pgbench" -h "$W/pgsock" -p $PGPORT -U bench -n -c $CONNS -j 2 -T "$SECS" \
    -D members="$MEMBERS" -D stores=$STORES -f "$ROOT/bench/peers/search.pgbench" bench 2>/dev/null \
    | awk '/^tps/ {print $3}')
python3 - "$CS_OPS" "$CS_P50" "$CS_P99" "$PG_OPS" "$MEMBERS" <<'PY'
import sys
cs, p50, p99, pg, n = sys.argv[1:]
print(f"| {int(n):,} members, 64 conns | chainstore {float(cs):,.0f}/s (p50 {int(p50)/1000:.1f} ms, p99 {int(p99)/1000:.1f} ms) | PostgreSQL {float(pg):,.0f}/s | {float(cs)/float(pg):.2f}x |")
PY
