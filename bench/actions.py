"""Action round trip: an update over HTTP until its SQL row is committed, with N incidents open.

N incidents are opened over HTTP (bazhong policy: nothing rings while it measures), and the benchmark waits
until the workers are idle again (each new incident's 【新交办】 sent and recorded). Then a sample of
them is acknowledged (POST /acknowledge) and another sample released (POST /releases), a few requests
in flight. The API answers only after the workflow's record_event (local) activity has committed, so the
response latency is the round trip; right after each response the benchmark reads the timeline row
("acknowledged" / "released") from SQL itself to confirm it is there.

Baseline (same run, same dev server, same moments): bare `execute_update` on a trivial workflow whose update
runs one no-op local activity (bench/trivial.py), as many as acknowledgements, shuffled into the same pool as
the desk's actions (the same concurrency, the same load).

Then, to say where the time goes, as many more acknowledgements (on incidents not acted on yet) and bare updates,
each kind alone, with the CPU every process spent on them: CPU per action by process against the bare update's.

Run: python -m bench actions [--quick] [--incidents N] [--sample S] [--cache N] [--database-url …]
"""

from __future__ import annotations

import asyncio
import random
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
    parser,
    per_item_ms,
    percentile,
    print_table,
    terminate,
    timed,
    warm_up,
    worker_counts,
)
from bench.trivial import WaitingWorkflow

TARGET_P95 = 0.150


class BareUpdates:
    """The baseline: bare `execute_update` on trivial workflows (bench/trivial.py), their worker in a process of
    its own. Its updates are interleaved with the desk's actions in one pool, so both see the same moment's load
    and concurrency (on a shared machine the load can double between two phases of one run)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.handles: list = []
        self.latencies: list[float] = []

    async def start(self, n: int, concurrency: int) -> BareUpdates:
        self.queue, self.worker = self.stack.start_baseline_worker()
        run = uuid.uuid4().hex[:6]
        self.handles = await bounded(n, concurrency, lambda i: self.stack.client.start_workflow(
            WaitingWorkflow.run, id=f"waiting-{run}-{i}", task_queue=self.queue))
        await bounded(min(n, 20), concurrency, lambda i: self.touch(i, keep=False))  # warm up
        return self

    async def touch(self, i: int, keep: bool = True) -> None:
        t = time.perf_counter()
        await self.handles[i].execute_update(WaitingWorkflow.touch, i)
        if keep:
            self.latencies.append(time.perf_counter() - t)

    async def stop(self, concurrency: int) -> None:
        try:
            await bounded(len(self.handles), concurrency, lambda i: self.handles[i].signal(WaitingWorkflow.finish))
        finally:
            terminate(self.worker)


def row_committed(stack: Stack, human_id: str, kind: str) -> bool:
    from sqlmodel import select

    from desk.db import session_scope
    from desk.models import Incident, TimelineEvent

    with session_scope(stack.db_url) as session:
        return session.exec(
            select(TimelineEvent.id).join(Incident, Incident.id == TimelineEvent.incident_id)
            .where(Incident.human_id == human_id, TimelineEvent.kind == kind)
        ).first() is not None


async def one_run(args, workers: int) -> list[tuple[str, str, str, str]]:
    worker_env = {"DESK_WORKER_MAX_CACHED_WORKFLOWS": str(args.cache)} if args.cache is not None else {}
    stack = await Stack(policy="bazhong", database_url=args.database_url, keep=args.keep,
                        worker_env=worker_env).start(workers=workers)
    try:
        bare = await BareUpdates(stack).start(args.sample, args.action_concurrency)
        await warm_up(stack)
        tasks_before = await stack.workflow_tasks()
        t0 = time.perf_counter()
        results = await bounded(args.incidents, args.concurrency, lambda i: stack.open())
        ids = [r.json()["id"] for _, r in results if r.status_code == 201]
        if len(ids) != args.incidents:
            raise RuntimeError(f"only {len(ids)}/{args.incidents} incidents opened")
        await stack.wait_workflow_tasks(tasks_before + args.incidents)
        log(f"{args.incidents} incidents open, clocks started, in {time.perf_counter() - t0:.0f}s")
        # Measure the actions, not the intake's backlog: each new incident's 【新交办】 is still being sent and
        # recorded (an activity and a second workflow task each) after its clocks started.
        log(f"the intake's 【新交办】 sent and recorded {await stack.wait_quiet():.0f}s later")
        picked = random.Random(7).sample(ids, min(len(ids), 3 * args.sample))
        alone, picked = picked[2 * args.sample:], picked[:2 * args.sample]  # `alone`: for the metered phases
        plan = [(h, "acknowledge", "acknowledged", {"note": "已签收"}) for h in picked[:args.sample]]
        plan += [(h, "releases", "released", {"channel": "政务微博", "summary": "已发布情况通报"})
                 for h in picked[args.sample:]]
        plan += [(str(i), "bare", "", {}) for i in range(args.sample)]  # the baseline, in the same pool
        random.Random(8).shuffle(plan)
        latency: dict[str, list[float]] = {"acknowledge": [], "releases": []}
        problems: list[str] = []

        async def act(i: int) -> None:
            human_id, path, kind, body = plan[i]
            if path == "bare":
                return await bare.touch(int(human_id))
            seconds, r = await timed(stack.lean.post(f"/api/incidents/{human_id}/{path}", json=body,
                                                     headers=stack.auth("bazhou")))
            if r.status_code != 200:
                problems.append(f"{path} {human_id}: {r.status_code} {r.text[:200]}")
                return
            if not await asyncio.to_thread(row_committed, stack, human_id, kind):
                problems.append(f"{path} {human_id}: answered before its '{kind}' row was in SQL")
            latency[path].append(seconds)

        await bounded(len(plan), args.action_concurrency, act)
        cost = await metered_alone(stack, bare, alone, args.action_concurrency)
        await bare.stop(args.action_concurrency)
        base = bare.latencies
        log(f"baseline, interleaved: bare update p50 {ms(percentile(base, 50))}, p95 {ms(percentile(base, 95))}")
        if problems:
            log(f"{len(problems)} problems, e.g. {problems[0]}")
        both = latency["acknowledge"] + latency["releases"]
        tag = f"{workers} worker(s)"
        target = f"target ≤ {ms(TARGET_P95)}"
        return [
            (f"acknowledge p50, {tag}", ms(percentile(latency["acknowledge"], 50)),
             f"bare update {ms(percentile(base, 50))}", _ratio(percentile(latency["acknowledge"], 50), percentile(base, 50))),
            (f"acknowledge p95, {tag}", ms(percentile(latency["acknowledge"], 95)), target,
             "met" if percentile(latency["acknowledge"], 95) <= TARGET_P95 else "missed"),
            (f"release p50, {tag}", ms(percentile(latency["releases"], 50)),
             f"bare update {ms(percentile(base, 50))}", _ratio(percentile(latency["releases"], 50), percentile(base, 50))),
            (f"release p95, {tag}", ms(percentile(latency["releases"], 95)), target,
             "met" if percentile(latency["releases"], 95) <= TARGET_P95 else "missed"),
            (f"all actions p95, {tag}", ms(percentile(both, 95)), f"bare update {ms(percentile(base, 95))}",
             _ratio(percentile(both, 95), percentile(base, 95))),
            (f"rows confirmed in SQL, {tag}", f"{len(both)}/{2 * args.sample}", "all", "ok" if not problems else "PROBLEMS"),
            *cost,
        ]
    finally:
        await stack.stop()


async def metered_alone(stack: Stack, bare: BareUpdates, human_ids: list[str],
                        concurrency: int) -> list[tuple[str, str, str, str]]:
    """Where an action's time goes: CPU per action by process, the desk's acknowledgements and the bare updates
    each run alone (not interleaved: the server's CPU cannot be told apart otherwise), at the same concurrency,
    on incidents not acted on yet. At a few in flight on two cores the round trip waits mostly for CPU, and
    the worker runs its part on one core (one Python process): its CPU per action sets the pace."""
    n = len(human_ids)
    if n == 0:
        return []
    server = stack.procs["temporal"].pid
    refused: list[str] = []

    async def acknowledge(i: int) -> None:
        r = await stack.lean.post(f"/api/incidents/{human_ids[i]}/acknowledge", json={"note": "已签收"},
                                  headers=stack.auth("bazhou"))
        if r.status_code != 200:
            refused.append(f"{human_ids[i]}: {r.status_code}")

    base_meter = CpuMeter({"server": server, "bare worker": bare.worker.pid, "client": None}).start()
    await bounded(n, concurrency, lambda i: bare.touch(i % len(bare.handles), keep=False))
    base = base_meter.stop()
    desk_meter = CpuMeter({"server": server, "API": stack.procs["api"].pid,
                           **{f"worker {k}": w.pid for k, w in enumerate(stack.workers)}, "client": None}).start()
    await bounded(n, concurrency, acknowledge)
    spent = desk_meter.stop()
    if refused:
        log(f"{len(refused)} acknowledgements refused in the metered phase, e.g. {refused[0]}")
    per, per_base = 1000 * sum(spent.values()) / n, 1000 * sum(base.values()) / n
    worker = 1000 * sum(v for k, v in spent.items() if k.startswith("worker")) / n
    log(f"metered alone, {n} each: acknowledge {per_item_ms(spent, n)}; bare update {per_item_ms(base, n)}")
    return [
        (f"CPU ms per acknowledgement, alone, {concurrency} in flight", f"{per:.1f} ms",
         f"bare update {per_base:.1f} ms", _ratio(per, per_base)),
        ("ditto, the worker's part", f"{worker:.1f} ms", f"bare worker {1000 * base['bare worker'] / n:.1f} ms",
         _ratio(worker, 1000 * base["bare worker"] / n, "the bare worker")),
    ]


def _ratio(value: float, base: float, of: str = "the bare update") -> str:
    return f"{value / base:.1f}× {of}" if base > 0 else "-"


async def main(argv: list[str]) -> None:
    p = parser(__doc__.split("\n")[0], workers="1")
    p.add_argument("--incidents", type=int, default=10_000, help="incidents open (default 10000)")
    p.add_argument("--sample", type=int, default=300, help="acknowledgements, and as many releases (default 300)")
    p.add_argument("--action-concurrency", type=int, default=4, help="actions in flight (default 4)")
    p.add_argument("--cache", type=int, default=None,
                   help="DESK_WORKER_MAX_CACHED_WORKFLOWS of each worker (default: the desk's default, 1000: an action "
                        "on one of 10,000 open incidents then mostly rebuilds it from its history first)")
    args = p.parse_args(argv)
    if args.quick:
        args.incidents, args.sample = 40, 10
    print(f"actions benchmark · {machine()}", flush=True)
    rows = []
    for workers in worker_counts(args.workers):
        rows += await one_run(args, workers)
    print_table(f"actions ({args.incidents} open, {2 * args.sample} actions, {args.action_concurrency} in flight)", rows)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
