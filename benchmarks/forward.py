"""Forwarding benchmark of postmark-bridge into a real Odoo 18 (run by benchmarks/forward.sh).

Standard library only; reuses the process and JSON-RPC helpers of scripts/e2e/e2e.py. Prints figures, checks
nothing: a benchmark, not a test.

1. Baseline: one JSON-RPC call per event, as the bridge user, sequentially: `create` of a `postmark.notification`
   and `bridge_ingest` of a one-event list; rates extrapolated from BENCH_BASELINE_CALLS calls each.
2. Throughput: BENCH_EVENTS Delivery events written straight into a fresh inbox (one INSERT ... SELECT
   generate_series, realistic payloads with Odoo metadata, distinct dedupe keys), then the bridge started; the
   clock runs from its start until `status --json` shows pending == 0. Odoo's record count is checked afterwards.
3. Memory: BENCH_MEMORY_EVENTS events in another fresh inbox, drained for at most BENCH_MEMORY_SECONDS while the
   bridge's VmRSS is sampled every BENCH_RSS_INTERVAL seconds.
"""

import json
import os
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "e2e"))
import e2e  # noqa: E402

PSQL = os.environ["BENCH_PSQL"]
PG_HOST = os.environ["BENCH_PG_HOST"]
PG_PORT = os.environ["BENCH_PG_PORT"]
EVENTS = int(os.environ.get("BENCH_EVENTS", "100000"))
BASELINE_CALLS = int(os.environ.get("BENCH_BASELINE_CALLS", "2000"))
MEMORY_EVENTS = int(os.environ.get("BENCH_MEMORY_EVENTS", "1000000"))
MEMORY_SECONDS = float(os.environ.get("BENCH_MEMORY_SECONDS", "300"))
RSS_INTERVAL = float(os.environ.get("BENCH_RSS_INTERVAL", "5"))
BATCH = os.environ.get("BRIDGE_FORWARD_BATCH")


def psql(database, sql):
    result = subprocess.run(
        [
            PSQL,
            "-h",
            PG_HOST,
            "-p",
            PG_PORT,
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-qAtc",
            sql,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


class Benchmark:
    def __init__(self, odoo_command):
        self.run = e2e.Run(odoo_command)
        if BATCH:
            self.run.bridge.env["BRIDGE_FORWARD_BATCH"] = BATCH
        self.bridge_rpc = e2e.OdooRPC(
            e2e.ODOO_URL, e2e.ODOO_DB, e2e.ODOO_ENV["ODOO_USER"], e2e.ODOO_ENV["ODOO_API_KEY"]
        )

    # -- the values the bridge would send for a Delivery (PostmarkEvent.notificationValues)

    def values(self, payload, key):
        metadata = json.dumps(payload["Metadata"], separators=(",", ":"), sort_keys=True)
        return {
            "dedupe_key": key,
            "state": "delivered",
            "record_type": "delivery",
            "mail_server_id": self.run.server_id,
            "recipient": payload["Recipient"],
            "postmark_message_id": payload["MessageID"],
            "message_stream": payload["MessageStream"],
            "tag": payload["Tag"],
            "event_date": payload["DeliveredAt"][:19].replace("T", " "),
            "metadata": metadata,
            "details": payload["Details"],
            "payload": json.dumps(payload),
        }

    def baseline(self):
        events = e2e.Events(self.run.messages[0], self.run.partners[0], "recipient1@example.com")
        rates = {}
        for method in ("create", "bridge_ingest"):
            payloads = [
                events.delivery(tag=f"bench-baseline-{method}") for _ in range(BASELINE_CALLS)
            ]
            values = [self.values(payload, f"baseline:{uuid.uuid4()}") for payload in payloads]
            if method == "create":
                # The payload field is for administrators; the bridge user may not write it directly.
                for item in values:
                    del item["payload"]
            started = time.monotonic()
            for item in values:
                if method == "create":
                    self.bridge_rpc.call("postmark.notification", "create", item)
                else:
                    self.bridge_rpc.call("postmark.notification", "bridge_ingest", [item])
            elapsed = time.monotonic() - started
            rates[method] = BASELINE_CALLS / elapsed
            print(
                f"baseline: {BASELINE_CALLS} single `{method}` calls in {elapsed:.1f} s = "
                f"{rates[method]:.0f} notifications/s ({1000 * elapsed / BASELINE_CALLS:.1f} ms per call)",
                flush=True,
            )
        return rates

    # -- the inbox

    def fill_inbox(self, database, count, prefix):
        """A fresh, migrated inbox database holding count pending Delivery events."""
        psql("postgres", f'DROP DATABASE IF EXISTS "{database}"')
        psql("postgres", f'CREATE DATABASE "{database}"')
        url = f"postgresql://postgres@127.0.0.1:{PG_PORT}/{database}"
        migrate = subprocess.run(
            [e2e.BRIDGE_BIN, "migrate"],
            env=dict(self.run.bridge.env, BRIDGE_DATABASE_URL=url),
            capture_output=True,
            text=True,
            check=False,
        )
        if migrate.returncode != 0:
            raise RuntimeError(f"migrate failed: {migrate.stderr.strip()}")
        metadata = {
            "odoo_db": e2e.ODOO_DB,
            "odoo_message_id": str(self.run.messages[0]),
            "odoo_partner_id": str(self.run.partners[0]),
        }
        started = time.monotonic()
        # One realistic Delivery per row: its own MessageID, time and dedupe key, the Odoo metadata of a real message.
        psql(
            database,
            f"""
            INSERT INTO inbox_events (mail_server_id, dedupe_key, record_type, state, message_id, recipient,
                                      occurred_at, received_at, payload)
            SELECT {self.run.server_id}, '{prefix}:' || n, 'delivery', 'delivered', m, 'recipient1@example.com', t, now(),
                   json_build_object(
                       'RecordType', 'Delivery', 'ServerID', 4242, 'MessageStream', 'outbound', 'MessageID', m,
                       'Recipient', 'recipient1@example.com', 'Tag', '{prefix}',
                       'DeliveredAt', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"0Z"'),
                       'Details', 'smtp;250 2.0.0 OK 1700000000 x' || n || ' - gsmtp',
                       'Metadata', '{json.dumps(metadata)}'::json)::text
            FROM (SELECT n, md5('{prefix}' || n)::uuid::text AS m,
                         timestamptz '2025-01-01 00:00:00+00' + n * interval '10 ms' AS t
                  FROM generate_series(1, {count}) AS n) AS rows
        """,
        )
        psql(database, "ANALYZE inbox_events")
        print(
            f"inbox {database}: {count} pending events inserted in {time.monotonic() - started:.1f} s",
            flush=True,
        )
        return url

    def status(self):
        return self.run.bridge.status()

    # -- draining

    def drain(self, url, count, poll, time_limit=None):
        """Starts the bridge on the inbox at url; returns (seconds, drained, RSS samples in KiB).

        `status --json` counts the whole inbox (about 0.4 s of PostgreSQL time at a million rows), so it is asked
        every `poll` seconds, not more: the polling must not compete with the drain it measures."""
        bridge = self.run.bridge
        bridge.env["BRIDGE_DATABASE_URL"] = url
        started = time.monotonic()
        bridge.start()
        samples = []
        next_sample = started
        pending = count
        while True:
            now = time.monotonic()
            if now >= next_sample:
                rss = rss_kib(bridge.process.pid)
                if rss is not None:
                    samples.append((now - started, rss))
                next_sample += RSS_INTERVAL
            status = self.status()
            if status is not None:
                pending = status["pending"]
                if status.get("parked"):
                    print(
                        f"warning: {status['parked']} events parked: {status.get('last_error')}",
                        flush=True,
                    )
            if pending == 0:
                break
            if time_limit is not None and now - started >= time_limit:
                break
            if bridge.process.poll() is not None:
                raise RuntimeError("the bridge exited (see logs/bridge.log)")
            time.sleep(poll)
        elapsed = time.monotonic() - started
        samples.append((elapsed, rss_kib(bridge.process.pid) or samples[-1][1]))
        bridge.stop()
        e2e.forget_pid("bridge")
        return elapsed, count - pending, samples

    def rss_summary(self, samples):
        values = [rss for _, rss in samples]
        # The first minute warms up (connections, buffers, allocator arenas); flat means no growth after it.
        settled = [rss for at, rss in samples if at >= 60] or values
        return (
            f"RSS min {mib(min(values))}, max {mib(max(values))}, last {mib(values[-1])}; after the first minute "
            f"min {mib(min(settled))}, max {mib(max(settled))} ({len(values)} samples every {RSS_INTERVAL:g} s)"
        )

    def main(self):
        print(
            f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; Odoo workers: "
            f"{os.environ.get('BENCH_ODOO_WORKERS')}; bridge batch: {BATCH or 'default'}",
            flush=True,
        )
        try:
            self.run.odoo.start()
            self.run.prepare_odoo()
            rates = self.baseline()
            baseline = min(rates.values())

            url = self.fill_inbox("bench_100k", EVENTS, "bench100k")
            elapsed, drained, samples = self.drain(url, EVENTS, 1)
            in_odoo = self.run.count_by_tag("bench100k")
            rate = drained / elapsed
            print(
                f"throughput: {drained} events forwarded in {elapsed:.1f} s (bridge start to pending == 0) = "
                f"{rate:.0f} notifications/s; Odoo has {in_odoo} records of them",
                flush=True,
            )
            print(
                f"throughput: {rate / baseline:.1f}x one call per event ({baseline:.0f}/s, the faster baseline "
                f"being {max(rates.values()):.0f}/s: {rate / max(rates.values()):.1f}x); "
                f"targets >= 10x and >= 1000/s",
                flush=True,
            )
            print(f"throughput: {self.rss_summary(samples)}", flush=True)

            url = self.fill_inbox("bench_1m", MEMORY_EVENTS, "bench1m")
            elapsed, drained, samples = self.drain(url, MEMORY_EVENTS, RSS_INTERVAL, MEMORY_SECONDS)
            verdict = (
                "drained completely"
                if drained == MEMORY_EVENTS
                else f"stopped after {MEMORY_SECONDS:g} s"
            )
            print(
                f"memory: backlog of {MEMORY_EVENTS}: {drained} forwarded in {elapsed:.0f} s "
                f"({drained / elapsed:.0f}/s), {verdict}",
                flush=True,
            )
            print(f"memory: {self.rss_summary(samples)}", flush=True)
            print(
                "memory: samples (s, MiB): "
                + " ".join(f"{at:.0f}:{rss / 1024:.1f}" for at, rss in samples),
                flush=True,
            )
            if len(samples) > 4:
                half = len(samples) // 2
                first = statistics.mean(rss for _, rss in samples[1:half])
                second = statistics.mean(rss for _, rss in samples[half:])
                print(
                    f"memory: mean RSS first half {mib(first)}, second half {mib(second)}",
                    flush=True,
                )
        finally:
            if self.run.bridge.process is not None and self.run.bridge.process.poll() is None:
                self.run.bridge.stop()
            if self.run.odoo.process is not None:
                self.run.odoo.stop()
        return 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == ["--"]:
        arguments = arguments[1:]
    sys.exit(Benchmark(arguments).main())
