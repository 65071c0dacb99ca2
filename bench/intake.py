"""Intake: incidents opened per second over HTTP, against bare `start_workflow` on the same dev server.

Baseline (same run, same dev server): a trivial workflow started with `client.start_workflow` at the
same concurrency, its worker in a process of its own, metered like the desk: from the first start until its
worker has run every workflow (the SDK's metrics) and gone quiet. Until 2026-12-01 the meter stopped when the
last start returned, before the worker had run most of them (about a third of a bare workflow's CPU); that
figure is still printed, as "the bare starts alone". Then the desk, with 1 and 2 worker processes:
POST /api/incidents (validate; incident row, milestones and the "opened" timeline event in one SQL
transaction; start the workflow), and the time until the workers have run every new incident's first
workflow task (its clocks are set: the rate the whole desk sustains, not just the API). Last, p95 open
latency with requests arriving at a steady half of the maximum rate.

CPU per item is read from /proc for every process (load generator, API, workers, Temporal server) and
compared with the bare start's. The workers' sticky cache is raised above the run's incidents, so that
the growth of their resident memory over the burst, divided by the incidents opened, is the memory one
cached incident costs.

Run: python -m bench intake [--quick] [--incidents N] [--workers 1,2] [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

from bench.common import (
    CpuMeter,
    Stack,
    bounded,
    log,
    machine,
    ms,
    paced,
    parser,
    per_item_ms,
    percentile,
    print_table,
    terminate,
    warm_up,
    worker_counts,
)
from bench.trivial import TrivialWorkflow

TARGET_RATIO = 0.70  # open over HTTP
TARGET_E2E_RATIO = 0.50  # open + clocks started
TARGET_CPU_RATIO = 2.5  # CPU per incident, every process, against a bare start's
TARGET_KB_PER_CACHED = 50
TARGET_P95 = 0.100


async def baseline(stack: Stack, n: int, concurrency: int, paced_seconds: float) -> dict:
    """Bare starts, metered as the desk's opens are: from the first start until the worker has run every
    workflow and the processes have gone quiet. What the starts alone cost (the meter stopped when the last
    start returned, as this baseline was measured before 2026-12-01, with most workflows not run yet) is kept
    as `accepted`."""
    queue, worker = stack.start_baseline_worker()
    try:
        run = uuid.uuid4().hex[:6]

        async def start(i: int) -> float:
            t = time.perf_counter()
            await stack.client.start_workflow(TrivialWorkflow.run, i, id=f"trivial-{run}-{i}", task_queue=queue)
            return time.perf_counter() - t

        await bounded(50, concurrency, start)  # warm the connection and the server's caches
        await stack.wait_workflow_tasks(50, workers=[worker])
        await stack.wait_quiet(still=2, workers=[worker])
        before = await stack.workflow_tasks([worker])
        meter = CpuMeter({"temporal": stack.procs["temporal"].pid, "worker": worker.pid, "client": None}).start()
        t0 = time.perf_counter()
        await bounded(n, concurrency, lambda i: start(50 + i))
        accepted_seconds = time.perf_counter() - t0
        accepted = meter.stop()
        ran = await stack.wait_workflow_tasks(before + n, workers=[worker])
        await stack.wait_quiet(still=2, workers=[worker])
        cpu = meter.stop()
        latencies = await paced(n / accepted_seconds / 2, paced_seconds, lambda i: start(50 + n + i))
        return {"rate": n / accepted_seconds, "run_rate": n / (ran - t0), "p50": percentile(latencies, 50),
                "p95": percentile(latencies, 95), "cpu": cpu, "accepted": accepted}
    finally:
        terminate(worker)


async def desk_intake(stack: Stack, workers: int, n: int, concurrency: int, paced_seconds: float) -> dict:
    await stack.start_workers(workers)
    try:
        await warm_up(stack)
        before = await stack.workflow_tasks()
        rss_before = stack.worker_rss_kb()
        meter = CpuMeter({"temporal": stack.procs["temporal"].pid, "api": stack.procs["api"].pid,
                          **{f"worker{i}": w.pid for i, w in enumerate(stack.workers)}, "load generator": None}).start()
        t0 = time.perf_counter()
        results = await bounded(n, concurrency, lambda i: stack.open())
        http_seconds = time.perf_counter() - t0
        failed = [r for _, r in results if r.status_code != 201]
        if failed:
            raise RuntimeError(f"{len(failed)} opens failed, e.g. {failed[0].status_code} {failed[0].text[:300]}")
        drained = await stack.wait_workflow_tasks(before + n)
        # What each open leaves behind (its 【新交办】 sent and its attempt recorded, as an activity and a second
        # workflow task where it is not sent in the first) is part of its cost: the meter runs until it is done.
        await stack.wait_quiet(still=2)
        cpu = meter.stop()
        kb_per_cached = (stack.worker_rss_kb() - rss_before) / n
        http_rate, e2e_rate = n / http_seconds, n / (drained - t0)
        log(f"{workers} worker(s): {n} opened over HTTP at {http_rate:.1f}/s; all clocks started at {e2e_rate:.1f}/s")
        half = min(http_rate, e2e_rate) / 2
        results = await paced(half, paced_seconds, lambda i: stack.open())
        latencies = [t for t, r in results if r.status_code == 201]
        await stack.wait_workflow_tasks(before + n + len(results))
        return {"cpu": cpu, "kb_per_cached": kb_per_cached,
                "http_rate": http_rate, "e2e_rate": e2e_rate, "half": half, "p50": percentile(latencies, 50),
                "p95": percentile(latencies, 95), "p99": percentile(latencies, 99), "errors": len(results) - len(latencies)}
    finally:
        await stack.stop_workers()


def cpu_ms(spent: dict[str, float], n: int) -> float:
    return 1000 * sum(spent.values()) / n


async def main(argv: list[str]) -> None:
    p = parser(__doc__.split("\n")[0], workers="1,2")
    p.add_argument("--incidents", type=int, default=2000, help="incidents per maximum-rate burst (default 2000)")
    p.add_argument("--paced-seconds", type=float, default=30, help="length of the half-rate run (default 30 s)")
    args = p.parse_args(argv)
    if args.quick:
        args.incidents, args.paced_seconds = 30, 3
    print(f"intake benchmark · {machine()}", flush=True)
    stack = await Stack(policy="bazhong", database_url=args.database_url, keep=args.keep).start(workers=0)
    # every incident of the run stays cached: the memory figure is per cached incident, not diluted by evictions
    stack.worker_env["DESK_WORKER_MAX_CACHED_WORKFLOWS"] = str(2 * args.incidents + 10_000)
    try:
        log(f"stack up (database {stack.db_url.split('://')[0]}); baseline: bare start_workflow × {args.incidents}")
        base = await baseline(stack, args.incidents, args.concurrency, args.paced_seconds)
        log(f"baseline: {base['rate']:.1f} starts/s ({base['run_rate']:.1f}/s run), p95 {ms(base['p95'])} at half rate")
        rows = [("bare start_workflow (baseline)", f"{base['rate']:.1f} /s", "-", "-"),
                ("bare workflows started and run (baseline)", f"{base['run_rate']:.1f} /s", "-", "-"),
                ("  CPU ms per bare workflow, started and run", per_item_ms(base["cpu"], args.incidents), "-", "-"),
                ("  CPU ms per bare start, until the starts returned", per_item_ms(base["accepted"], args.incidents),
                 "-", "-"),
                ("bare start_workflow p95 @ half rate", ms(base["p95"]), "-", "-")]
        for workers in worker_counts(args.workers):
            d = await desk_intake(stack, workers, args.incidents, args.concurrency, args.paced_seconds)
            desk_cpu = cpu_ms(d["cpu"], args.incidents)
            bare_cpu, accepted_cpu = cpu_ms(base["cpu"], args.incidents), cpu_ms(base["accepted"], args.incidents)
            rows += [
                (f"open over HTTP, {workers} worker(s)", f"{d['http_rate']:.1f} /s", f"{base['rate']:.1f} /s",
                 f"{d['http_rate'] / base['rate']:.0%} (target ≥ {TARGET_RATIO:.0%})"),
                (f"open + clocks started, {workers} worker(s)", f"{d['e2e_rate']:.1f} /s", f"{base['run_rate']:.1f} /s run",
                 f"{d['e2e_rate'] / base['run_rate']:.0%} (target ≥ {TARGET_E2E_RATIO:.0%})"),
                ("  ditto vs bare starts returned", f"{d['e2e_rate']:.1f} /s", f"{base['rate']:.1f} /s",
                 f"{d['e2e_rate'] / base['rate']:.0%} (before 2026-12-01)"),
                (f"  CPU ms per incident, {workers} worker(s)", per_item_ms(d["cpu"], args.incidents), "-", "-"),
                (f"CPU per incident vs per bare workflow run, {workers} worker(s)", f"{desk_cpu:.1f} ms",
                 f"{bare_cpu:.1f} ms", f"{desk_cpu / bare_cpu:.1f}× (target ≤ {TARGET_CPU_RATIO}×)"),
                ("  ditto vs the bare starts alone", f"{desk_cpu:.1f} ms", f"{accepted_cpu:.1f} ms",
                 f"{desk_cpu / accepted_cpu:.1f}× (before 2026-12-01)"),
                (f"worker memory per cached incident, {workers} worker(s)", f"{d['kb_per_cached']:.1f} KB",
                 f"target ≤ {TARGET_KB_PER_CACHED} KB", "met" if d["kb_per_cached"] <= TARGET_KB_PER_CACHED else "missed"),
                (f"open p50 @ {d['half']:.0f}/s, {workers} worker(s)", ms(d["p50"]), "-", "-"),
                (f"open p95 @ {d['half']:.0f}/s, {workers} worker(s)", ms(d["p95"]), f"target ≤ {ms(TARGET_P95)}",
                 "met" if d["p95"] <= TARGET_P95 else "missed"),
            ]
        print_table(f"intake ({args.incidents} per burst, {args.concurrency} in flight, {stack.db_url.split(':')[0]})", rows)
    finally:
        await stack.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
