#!/usr/bin/env bash
# Benchmark, not a test: durable webhook ingest throughput of postmark-bridge.
#
#   benchmarks/ingest.sh [SECONDS] [CONNECTIONS]        (defaults: 20 s, 32 connections)
#
# Starts a private PostgreSQL (fsync and synchronous_commit on, as in production), builds the bridge in release
# mode, starts it on a fresh inbox, and drives it with wrk over keep-alive connections with realistic Delivery
# payloads, each with a distinct MessageID, counting only 2xx answers. Prints requests/s, p50/p99 latency and the
# bridge's peak RSS, and checks that the inbox holds exactly as many events as 2xx answers. Then runs the same wrk
# script against nginx answering `return 200` on the same machine, as the ceiling.
#
# PostgreSQL in service recycles its WAL segments. A cluster fresh from initdb has none to recycle: it creates and
# zero-fills a new 16 MB segment each time one fills (about once a second at these rates) and every commit waits for
# that, about 50 ms. So before the run the script writes and discards more WAL than the run will (32 MB per second
# of run) and checkpoints, which leaves recycled segments as in a cluster that has been running. BENCH_COLD_WAL=1
# skips that and measures the fresh cluster.
# Needs wrk and nginx (scripts/install-deps.sh with WITH_BENCHMARK_TOOLS=1 installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
connections="${2:-32}"

if [[ -z "${BRIDGE_TEST_DATABASE_URL:-}" ]]; then
    exec scripts/with-postgres.sh "$0" "$@"
fi
command -v wrk >/dev/null || { echo "ingest: wrk is not installed" >&2; exit 1; }

swift build -c release --product postmark-bridge >/dev/null

if [[ "${BENCH_COLD_WAL:-0}" != 1 ]]; then
    # About 1 KB of WAL per row of 960 characters.
    warmup_rows=$((seconds * 32000))
    psql "$BRIDGE_TEST_DATABASE_URL" -qAt \
        -c "CREATE TABLE wal_warmup AS SELECT repeat(md5(g::text), 30) FROM generate_series(1, $warmup_rows) g" \
        -c "DROP TABLE wal_warmup" -c "CHECKPOINT" -c "SELECT pg_switch_wal()" -c "CHECKPOINT" >/dev/null
    segments="$(psql "$BRIDGE_TEST_DATABASE_URL" -Atc 'SELECT count(*) FROM pg_ls_waldir()')"
    echo "WAL warmed: $segments segments to recycle" >&2
else
    echo "WAL cold: the fresh cluster creates every segment it fills" >&2
fi
wal_start="$(psql "$BRIDGE_TEST_DATABASE_URL" -Atc 'SELECT pg_current_wal_lsn()')"
binary="$(swift build -c release --show-bin-path)/postmark-bridge"

work="$(mktemp -d)"
trap 'kill "${bridge_pid:-}" "${nginx_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
token="bench-token-0123456789abcdef0123456789"
printf '[{"id": 1, "name": "bench", "tokens": ["%s"]}]\n' "$token" >"$work/servers.json"
port=$((20000 + RANDOM % 20000))

BRIDGE_DATABASE_URL="$BRIDGE_TEST_DATABASE_URL" BRIDGE_SERVERS_FILE="$work/servers.json" \
    BRIDGE_LISTEN="127.0.0.1:$port" LOG_LEVEL=warning "$binary" serve 2>"$work/bridge.log" &
bridge_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

run_wrk() {
    BENCH_TOKEN="$token" BENCH_SERVER_ID=1 wrk -t2 -c"$connections" -d"${seconds}s" --latency \
        -s benchmarks/delivery.lua "$1" | tee "$work/wrk.out" | grep -E "^BENCH|Requests/sec" >&2
    grep "^BENCH" "$work/wrk.out"
}

echo "== postmark-bridge: ${seconds}s, $connections connections" >&2
result="$(run_wrk "http://127.0.0.1:$port")"
peak_kb="$(awk '/VmHWM/ {print $2}' "/proc/$bridge_pid/status")"
ok="$(sed -E 's/.*ok=([0-9]+).*/\1/' <<<"$result")"
rows="$(psql "$BRIDGE_TEST_DATABASE_URL" -Atc 'SELECT count(*) FROM inbox_events')"
# wrk drops the answers still in flight when its time is up, so the bridge's own count of stored events answered
# 200 is the exact one;
# wrk's count may trail it by at most one request per connection.
answered="$(curl -sf "http://127.0.0.1:$port/metrics" \
    | awk '/^bridge_webhook_events_total/ {n += $2} END {print n + 0}')"
awk -v r="$result" -v peak="$peak_kb" -v rows="$rows" 'BEGIN {
    split(r, f, /[ =]/); ok = f[3]; bad = f[5]; secs = f[7]; p50 = f[9]; p99 = f[11]
    printf "bridge: %.0f durable events/s (%d 2xx seen by wrk, %d other), p50 %.2f ms, p99 %.2f ms, peak RSS %.1f MB\n",
        ok / secs, ok, bad, p50, p99, peak / 1024 }'
echo "inbox rows: $rows; events the bridge answered 200 stored: $answered"
psql "$BRIDGE_TEST_DATABASE_URL" -Atc "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$wal_start')" \
    | awk -v rows="$rows" '{ printf "WAL written: %.0f MB, %.0f bytes per event\n", $1 / 1048576, $1 / (rows + 0.001) }'
curl -sf "http://127.0.0.1:$port/metrics" | awk '
    /^bridge_inbox_commit_batch_size_sum/ { bs = $2 } /^bridge_inbox_commit_batch_size_count/ { bc = $2 }
    /^bridge_inbox_store_seconds_sum/ { ss = $2 } /^bridge_inbox_store_seconds_count/ { sc = $2 }
    END { if (bc && sc) printf "group commit: %d batches, %.1f events per batch; mean store time %.2f ms\n",
        bc, bs / bc, 1000 * ss / sc }' 
[[ "$rows" == "$answered" ]] || { echo "ingest: inbox holds $rows events but $answered were acknowledged" >&2; exit 1; }
(( ok <= rows && rows <= ok + connections )) || { echo "ingest: wrk saw $ok 2xx, inbox holds $rows" >&2; exit 1; }

if command -v nginx >/dev/null; then
    nginx_port=$((port + 1))
    cat >"$work/nginx.conf" <<CONF
worker_processes 2; daemon off; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:$nginx_port; location / { return 200 '{"status":"stored"}'; } } }
CONF
    nginx -c "$work/nginx.conf" &
    nginx_pid=$!
    sleep 0.5
    echo "== nginx return 200 (ceiling)" >&2
    result="$(run_wrk "http://127.0.0.1:$nginx_port")"
    awk -v r="$result" 'BEGIN { split(r, f, /[ =]/); printf "nginx: %.0f requests/s, p50 %.2f ms, p99 %.2f ms\n",
        f[3] / f[7], f[9], f[11] }'
fi
