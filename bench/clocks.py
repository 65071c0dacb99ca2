"""Clocks at scale: how late reminders and escalations arrive with N incidents open, and worker memory.

N incidents are opened over HTTP under bench/policies/clocks.toml (drill-like, minutes). Each one's
detected time is chosen so that its acknowledge reminder falls due at a planned moment inside the
measuring window (spread evenly, `--ring-rate` incidents per second) and its breach escalation (three
channels) one minute later. The local receiver stamps every json:// message as it arrives; lateness =
arrival − the rung's scheduled time (from desk.clocks, the same arithmetic the workflow uses). A rung
that has not arrived when the window closes counts with the lateness it has reached by then.

Worker memory per open incident = (worker RSS with N open − RSS after warm-up) / N.

Run: python -m bench clocks [--quick] [--incidents N] [--ring-rate R] [--workers 1,2] [--database-url …]
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from datetime import datetime, timedelta, timezone

from bench.common import (
    PARTY,
    POLICIES,
    Stack,
    bounded,
    log,
    machine,
    ms,
    parser,
    percentile,
    print_table,
    terminate,
    warm_up,
    worker_counts,
)

POLICY = POLICIES / "clocks.toml"
REMINDER_LEAD = timedelta(minutes=19)  # detected_at → the acknowledge reminder, in the policy above
TARGET_P99 = 1.0
TARGET_KB = 50.0
HUMAN_ID = re.compile(r"YQ-\d{4}-\d{6}")


def expected_rungs(opened: list[tuple[str, datetime, datetime]], since: float, until: float) -> dict:
    """(human_id, kind, tag) -> scheduled epoch seconds, for every message due in [since, until]."""
    from desk import clocks as clk
    from desk.policy import load_policy

    policy = load_policy(POLICY)
    horizon = datetime.fromtimestamp(until, timezone.utc)
    want = {}
    for human_id, detected_at, opened_at in opened:
        for clock in clk.open_clocks(policy, "III", detected_at, opened_at):
            for rung in clk.ladder(clock, policy, PARTY, horizon):
                at = rung.at.timestamp()
                if since <= at <= until:
                    for tag in rung.tags:
                        want[(human_id, rung.kind, tag)] = at
    return want


KINDS = {"【时限提醒】": "reminder", "【超时督办】": "breach", "【再次督办】": "repeat"}


def lateness(want: dict, arrivals: list[dict], closed_at: float) -> tuple[list[float], int, int]:
    """Lateness of every expected message; (values, arrived, missing). Duplicates are counted apart."""
    got: dict[tuple, float] = {}
    duplicates = 0
    for a in arrivals:
        m = HUMAN_ID.search(a["title"])
        kind = next((k for prefix, k in KINDS.items() if prefix in a["title"]), None)
        if not m or not kind:
            continue
        key = (m.group(0), kind, a["path"])
        if key in got:
            duplicates += 1
        got[key] = min(got.get(key, a["at"]), a["at"])
    values, missing = [], 0
    for key, scheduled in want.items():
        if key in got:
            values.append(got[key] - scheduled)
        else:
            missing += 1
            values.append(max(0.0, closed_at - scheduled))
    return values, len(want) - missing, duplicates


async def timer_baseline(stack: Stack, rate: float, seconds: float, concurrency: int) -> list[float]:
    """Bare Temporal: workflows that sleep until a moment, then one activity posts to the receiver."""
    queue, worker = stack.start_baseline_worker()
    try:
        k = max(1, int(rate * seconds))
        first = time.time() + k / 100 + 5
        due = {f"timer-{i}-{first:.0f}": first + i / rate for i in range(k)}
        ids = list(due)
        await bounded(k, concurrency, lambda i: stack.client.start_workflow(
            "BenchTimer", due[ids[i]], id=ids[i], task_queue=queue))
        while time.time() < first + seconds + 10:
            await asyncio.sleep(1)
        got = {a["title"]: a["at"] for a in await stack.arrivals() if a["path"] == "baseline"}
        return [got[i] - at if i in got else time.time() - at for i, at in due.items()]
    finally:
        terminate(worker)


async def one_run(args, workers: int) -> dict:
    n, rate = args.incidents, args.ring_rate
    worker_env = {"DESK_WORKER_MAX_CACHED_WORKFLOWS": str(args.cache)} if args.cache is not None else {}
    stack = await Stack(policy=str(POLICY), database_url=args.database_url, keep=args.keep,
                        worker_env=worker_env).start(workers=workers)
    try:
        base = await timer_baseline(stack, 2 * rate, args.baseline_seconds, args.concurrency)
        log(f"baseline timers: p50 {ms(percentile(base, 50))}, p99 {ms(percentile(base, 99))}")
        await warm_up(stack)
        await asyncio.sleep(2)
        rss_before = stack.worker_rss_kb()
        opened: list[tuple[str, datetime, datetime]] = []
        t_start = time.time()
        # Calibrate: the first incidents ring after the window; how fast they open tells when the rest are in.
        calib = min(n // 10, 200) if n >= 20 else 0
        park = datetime.fromtimestamp(t_start, timezone.utc) + REMINDER_LEAD - timedelta(seconds=30)

        async def open_one(ring_at: datetime) -> None:
            detected = ring_at - REMINDER_LEAD
            _, r = await stack.open(detected_at=detected.isoformat(), level="III")
            if r.status_code != 201:
                raise RuntimeError(f"open failed: {r.status_code} {r.text[:300]}")
            body = r.json()
            opened.append((body["id"], datetime.fromisoformat(body["detected_at"]),
                           datetime.fromisoformat(body["opened_at"])))

        tasks_before = await stack.workflow_tasks()
        t0 = time.perf_counter()
        await bounded(calib, args.concurrency, lambda i: open_one(park + timedelta(seconds=i * 0.01)))
        await stack.wait_workflow_tasks(tasks_before + calib)  # the rate the workers keep up with, not just HTTP
        calib_rate = calib / (time.perf_counter() - t0) if calib else 50.0
        rest = n - calib
        window_start = time.time() + rest / calib_rate * 1.3 + args.settle
        spacing = 1.0 / rate
        log(f"{workers} worker(s): opening {n} incidents (~{calib_rate:.0f}/s); reminders due from "
            f"+{window_start - time.time():.0f}s at {rate:g}/s")
        await bounded(rest, args.concurrency, lambda i: open_one(
            datetime.fromtimestamp(window_start + i * spacing, timezone.utc)))
        opened_done = time.time()
        await stack.wait_workflow_tasks(tasks_before + n)
        drained = time.time()
        await asyncio.sleep(2)
        rss_after = stack.worker_rss_kb()
        log(f"{n} open in {opened_done - t_start:.0f}s, all recorded after {drained - t_start:.0f}s; "
            f"worker RSS {rss_before / 1024:.0f} → {rss_after / 1024:.0f} MiB; window opens in "
            f"{window_start - time.time():+.0f}s")
        window_end = min(window_start + args.measure, window_start + rest * spacing + 60)
        while time.time() < window_end + args.grace:
            stack.check_alive()
            await asyncio.sleep(1)
        closed_at = time.time()
        arrivals = await stack.arrivals()
        want = expected_rungs(opened, window_start, window_end)
        values, arrived, duplicates = lateness(want, arrivals, closed_at)
        return {
            "workers": workers, "n": n, "open_seconds": drained - t_start, "early": window_start < drained,
            "expected": len(want), "arrived": arrived, "duplicates": duplicates,
            "p50": percentile(values, 50), "p99": percentile(values, 99), "max": max(values, default=float("nan")),
            "msg_rate": len(want) / (window_end - window_start) if window_end > window_start else 0.0,
            "base_p50": percentile(base, 50), "base_p99": percentile(base, 99), "base_max": max(base),
            "kb_per_incident": (rss_after - rss_before) / n, "rss_after_mb": rss_after / 1024,
        }
    finally:
        await stack.stop()


async def main(argv: list[str]) -> None:
    p = parser(__doc__.split("\n")[0], workers="1,2")
    p.add_argument("--incidents", type=int, default=10_000, help="incidents open at once (default 10000)")
    p.add_argument("--ring-rate", type=float, default=20,
                   help="incidents whose reminder falls due per second in the window (default 20)")
    p.add_argument("--measure", type=float, default=150, help="length of the measuring window (default 150 s)")
    p.add_argument("--settle", type=float, default=20, help="pause between the last open and the window (s)")
    p.add_argument("--baseline-seconds", type=float, default=30, help="length of the bare-timer baseline (s)")
    p.add_argument("--cache", type=int, default=None,
                   help="DESK_WORKER_MAX_CACHED_WORKFLOWS of each worker (default: the desk's default)")
    p.add_argument("--grace", type=float, default=15, help="wait for late messages after the window (s)")
    args = p.parse_args(argv)
    if args.quick:
        args.incidents, args.ring_rate, args.measure, args.settle, args.grace = 40, 5, 70, 5, 5
        args.baseline_seconds = 5
    print(f"clocks benchmark · {machine()}", flush=True)
    rows = []
    for workers in worker_counts(args.workers):
        r = await one_run(args, workers)
        tag = f"{workers} worker(s)"
        note = " (window opened before all were in)" if r["early"] else ""
        rows += [
            (f"messages due in window, {tag}", f"{r['expected']} ({r['msg_rate']:.1f}/s)",
             f"{r['arrived']} arrived, {r['duplicates']} duplicate", note or "-"),
            (f"lateness p50, {tag}", ms(r["p50"]), f"bare timer {ms(r['base_p50'])}", "-"),
            (f"lateness p99, {tag}", ms(r["p99"]), f"bare timer {ms(r['base_p99'])}; target ≤ {ms(TARGET_P99)}",
             "met" if r["p99"] <= TARGET_P99 else "missed"),
            (f"lateness max, {tag}", ms(r["max"]), f"bare timer {ms(r['base_max'])}", "-"),
            (f"worker memory per open incident, {tag}", f"{r['kb_per_incident']:.1f} KB",
             f"target ≤ {TARGET_KB:.0f} KB", "met" if r["kb_per_incident"] <= TARGET_KB else "missed"),
            (f"worker RSS with {r['n']} open, {tag}", f"{r['rss_after_mb']:.0f} MiB", "-", "-"),
            (f"time to open {r['n']} (all recorded), {tag}", f"{r['open_seconds']:.0f} s",
             f"{r['n'] / r['open_seconds']:.1f} /s", "-"),
        ]
        log(" · ".join(f"{figure}: {value}" for figure, value, _, _ in rows[-7:]))
    print_table(f"clocks ({args.incidents} open, ring rate {args.ring_rate:g}/s, policy {POLICY.name})", rows)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
