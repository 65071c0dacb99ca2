"""Clocks at scale: how late reminders and escalations arrive with N incidents open, and worker memory.

N incidents are opened over HTTP under bench/policies/clocks.toml (drill-like, minutes). Some of them
have their detected time chosen so that their acknowledge reminder falls due at a planned moment inside
one of the measuring windows (one window per `--ring-rates` rate, incidents spread evenly, windows one
after another) and their breach escalation (three channels) one minute later; the others stay open,
quiet, for the whole run (they ring only after it), so every window runs with N incidents open. The local
receiver stamps every json:// message as it arrives; lateness = arrival − the rung's scheduled time (from
desk.clocks, the same arithmetic the workflow uses). A rung that has not arrived when the window closes
counts with the lateness it has reached by then.

Worker memory per open incident = (worker RSS with N open − RSS after warm-up) / N.

--quick (the smoke test): 50 incidents, one short window, and bench/policies/clocks-quick.toml, whose reminder
comes 10 s before the breach instead of a minute.

Run: python -m bench clocks [--quick] [--incidents N] [--ring-rates 2,5,10,20] [--workers 1,2] [--cache N]
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from datetime import UTC, datetime, timedelta

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
from bench.trivial import TimerWorkflow

POLICY = POLICIES / "clocks.toml"
QUICK_POLICY = POLICIES / "clocks-quick.toml"  # --quick: the same with the reminder 10 s before the breach
TARGET_P99 = 1.0
TARGET_KB = 50.0
HUMAN_ID = re.compile(r"YQ-\d{4}-\d{6}")


def acknowledge_rungs(policy_path) -> tuple[timedelta, timedelta]:  # noqa: ANN001
    """(detected_at → the acknowledge reminder, the reminder → the breach) under the policy."""
    from desk import clocks as clk
    from desk.policy import load_policy

    policy = load_policy(policy_path)
    t = datetime(2026, 1, 5, tzinfo=UTC)
    [clock] = [c for c in clk.open_clocks(policy, "III", t, t) if c.key == "acknowledge"]
    at = {r.kind: r.at for r in clk.ladder(clock, policy, PARTY, clock.due_at)}
    return at["reminder"] - t, at["breach"] - at["reminder"]


def expected_rungs(policy_path, opened: list[tuple[str, datetime, datetime]], since: float,  # noqa: ANN001
                   until: float) -> dict:
    """(human_id, kind, tag) -> scheduled epoch seconds, for every message due in [since, until]."""
    from desk import clocks as clk
    from desk.policy import load_policy

    policy = load_policy(policy_path)
    horizon = datetime.fromtimestamp(until, UTC)
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


async def timer_baseline(stack: Stack, rate: float, seconds: float, concurrency: int, tail: float = 10) -> list[float]:
    """Bare Temporal: workflows that sleep until a moment, then one activity posts to the receiver; the arrivals
    are read `tail` seconds after the last is due."""
    queue, worker = stack.start_baseline_worker()
    try:
        k = max(1, int(rate * seconds))
        first = time.time() + k / 100 + 5
        due = {f"timer-{i}-{first:.0f}": first + i / rate for i in range(k)}
        ids = list(due)
        await bounded(k, concurrency, lambda i: stack.client.start_workflow(
            TimerWorkflow.run, due[ids[i]], id=ids[i], task_queue=queue))
        while time.time() < first + seconds + tail:
            await asyncio.sleep(1)
        got = {a["title"]: a["at"] for a in await stack.arrivals() if a["path"] == "baseline"}
        return [got[i] - at if i in got else time.time() - at for i, at in due.items()]
    finally:
        terminate(worker)


def plan_windows(rates: list[float], window: float, gap: float) -> list[tuple[float, float, int]]:
    """(offset from the first window's start, rate, incidents) of each measuring window, one after another.
    A gap longer than the time between reminder and breach keeps one window's breaches out of the next."""
    plan, offset = [], 0.0
    for rate in rates:
        plan.append((offset, rate, max(1, round(rate * window))))
        offset += window + gap
    return plan


async def one_run(args, workers: int) -> dict:
    n, rates = args.incidents, args.ring_rates
    reminder_lead, breach_after = acknowledge_rungs(args.policy)
    plan = plan_windows(rates, args.measure, args.gap)
    ringing = sum(k for _, _, k in plan)
    if ringing > n:
        raise SystemExit(f"--incidents {n} is fewer than the {ringing} the windows need")
    worker_env = {"DESK_WORKER_MAX_CACHED_WORKFLOWS": str(args.cache)} if args.cache is not None else {}
    stack = await Stack(policy=str(args.policy), database_url=args.database_url, keep=args.keep,
                        worker_env=worker_env).start(workers=workers)
    try:
        base = await timer_baseline(stack, 2 * max(rates), args.baseline_seconds, args.concurrency,
                                    tail=5 if args.quick else 10)
        log(f"baseline timers at {2 * max(rates):g}/s: p50 {ms(percentile(base, 50))}, p99 {ms(percentile(base, 99))}")
        await warm_up(stack)
        await asyncio.sleep(2)
        rss_before = stack.worker_rss_kb()
        opened: list[tuple[str, datetime, datetime]] = []
        t_start = time.time()

        async def open_one(ring_at: datetime | None) -> None:
            """ring_at None: parked, detected now; its reminder comes only after the measuring is over."""
            fields = {"detected_at": (ring_at - reminder_lead).isoformat()} if ring_at else {}
            _, r = await stack.open(level="III", **fields)
            if r.status_code != 201:
                raise RuntimeError(f"open failed: {r.status_code} {r.text[:300]}")
            body = r.json()
            opened.append((body["id"], datetime.fromisoformat(body["detected_at"]),
                           datetime.fromisoformat(body["opened_at"])))

        # Calibrate on parked incidents: how fast the workers start clocks tells when the rest are in.
        parked = n - ringing
        calib = min(parked, 200)
        tasks_before = await stack.workflow_tasks()
        t0 = time.perf_counter()
        await bounded(calib, args.concurrency, lambda i: open_one(None))
        # The rate the workers keep up with, not just HTTP: up to the last of what an opening leaves behind
        # (each new incident's 【新交办】 sent and recorded), or the windows start inside that backlog.
        opened_calib = time.perf_counter() - t0
        calib_seconds = opened_calib + await stack.wait_quiet(still=3)
        calib_rate = calib / calib_seconds if calib else 50.0
        first = time.time() + (n - calib) / calib_rate * 1.8 + args.settle  # sustained is slower than the first 200
        moments = [datetime.fromtimestamp(first + offset + i / rate, UTC)
                   for offset, rate, k in plan for i in range(k)]
        moments += [None] * (parked - calib)
        log(f"{workers} worker(s): opening {n} incidents (~{calib_rate:.0f}/s); windows at "
            f"{', '.join(f'{r:g}' for r in rates)} reminders/s from +{first - time.time():.0f}s")
        await bounded(len(moments), args.concurrency, lambda i: open_one(moments[i]))
        opened_done = time.time()
        await stack.wait_workflow_tasks(tasks_before + n)
        started = time.time()
        try:  # and the 【新交办】 backlog behind the clocks: a window that opens inside it is marked early
            await stack.wait_quiet(still=3, timeout=max(1.0, first - time.time()))
            drained = time.time() - 3
        except TimeoutError:
            drained = time.time()
            log("warning: the workers were still busy with the openings when the first window opened "
                "(use a longer --settle)")
        await asyncio.sleep(2)
        rss_after = stack.worker_rss_kb()
        log(f"{n} open in {opened_done - t_start:.0f}s, all clocks started after {started - t_start:.0f}s, "
            f"every opening done after {drained - t_start:.0f}s; "
            f"worker RSS {rss_before / 1024:.0f} → {rss_after / 1024:.0f} MiB; first window opens in "
            f"{first - time.time():+.0f}s")
        last_end = first + plan[-1][0] + args.measure + breach_after.total_seconds()
        if last_end > t_start + reminder_lead.total_seconds():
            log("warning: parked incidents start ringing before the last window closes (open faster or "
                "use fewer --ring-rates)")
        while time.time() < last_end + args.grace:
            stack.check_alive()
            await asyncio.sleep(1)
        closed_at = time.time()
        arrivals = await stack.arrivals()
        windows = []
        for offset, rate, _ in plan:
            since = first + offset
            until = since + args.measure + breach_after.total_seconds()  # the last reminder's breach
            want = expected_rungs(args.policy, opened, since, until)
            values, arrived, duplicates = lateness(want, arrivals, closed_at)
            windows.append({
                "rate": rate, "expected": len(want), "arrived": arrived, "duplicates": duplicates,
                "early": since < drained,
                "p50": percentile(values, 50), "p99": percentile(values, 99), "max": max(values, default=float("nan")),
            })
        return {
            "workers": workers, "n": n, "open_seconds": started - t_start, "windows": windows,
            "base_p50": percentile(base, 50), "base_p99": percentile(base, 99), "base_max": max(base),
            "kb_per_incident": (rss_after - rss_before) / n, "rss_after_mb": rss_after / 1024,
        }
    finally:
        await stack.stop()


async def main(argv: list[str]) -> None:
    p = parser(__doc__.split("\n")[0], workers="1,2")
    p.add_argument("--incidents", type=int, default=10_000, help="incidents open at once (default 10000)")
    p.add_argument("--ring-rates", default="2,5,10,20",
                   help="one measuring window per rate: incidents whose reminder falls due per second "
                        "(each brings 2 rungs, 4 messages); default 2,5,10,20")
    p.add_argument("--measure", type=float, default=45, help="length of each measuring window (default 45 s)")
    p.add_argument("--gap", type=float, default=75, help="pause between windows (default 75 s, > the breach minute)")
    p.add_argument("--settle", type=float, default=20, help="pause between the last open and the first window (s)")
    p.add_argument("--baseline-seconds", type=float, default=30, help="length of the bare-timer baseline (s)")
    p.add_argument("--cache", type=int, default=None,
                   help="DESK_WORKER_MAX_CACHED_WORKFLOWS of each worker (default: the desk's default)")
    p.add_argument("--grace", type=float, default=15, help="wait for late messages after the last window (s)")
    args = p.parse_args(argv)
    args.policy = POLICY
    if args.quick:
        args.incidents, args.ring_rates, args.measure, args.settle, args.grace = 50, "5", 8, 5, 5
        args.baseline_seconds, args.policy = 5, QUICK_POLICY
    args.ring_rates = [float(r) for r in args.ring_rates.split(",")]
    print(f"clocks benchmark · {machine()}", flush=True)
    rows = []
    for workers in worker_counts(args.workers):
        r = await one_run(args, workers)
        tag = f"{workers} worker(s)"
        for w in r["windows"]:
            at = f"{w['rate']:g} rungs/s, {tag}"  # R reminders/s, then R breaches/s (3 messages each)
            note = " (window opened before every opening was done)" if w["early"] else ""
            rows += [
                (f"messages due at {at}", f"{w['expected']}", f"{w['arrived']} arrived, {w['duplicates']} duplicate",
                 note or "-"),
                (f"lateness p50 / max at {at}", f"{ms(w['p50'])} / {ms(w['max'])}", "-", "-"),
                (f"lateness p99 at {at}", ms(w["p99"]), f"target ≤ {ms(TARGET_P99)}",
                 "met" if w["p99"] <= TARGET_P99 else "missed"),
            ]
        rows += [
            (f"bare timer + activity p50 / p99 / max, {tag}",
             f"{ms(r['base_p50'])} / {ms(r['base_p99'])} / {ms(r['base_max'])}",
             f"at {2 * max(args.ring_rates):g} workflows/s", "-"),
            (f"worker memory per open incident, {tag}", f"{r['kb_per_incident']:.1f} KB",
             f"target ≤ {TARGET_KB:.0f} KB", "met" if r["kb_per_incident"] <= TARGET_KB else "missed"),
            (f"worker RSS with {r['n']} open, {tag}", f"{r['rss_after_mb']:.0f} MiB", "-", "-"),
            (f"time to open {r['n']} (all clocks started), {tag}", f"{r['open_seconds']:.0f} s",
             f"{r['n'] / r['open_seconds']:.1f} /s", "-"),
        ]
        log(f"{tag} done")
    print_table(f"clocks ({args.incidents} open, policy {args.policy.name})", rows)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
