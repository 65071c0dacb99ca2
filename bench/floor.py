"""Floor: what the least an open incident could be costs, step by step from a bare start to the desk.

Issue 17 asks for CPU per incident opened with its clocks started within 2.5× a bare `start_workflow` (a
workflow that returns at once). This benchmark walks from that bare start towards the desk's shape on the
same dev server, one step at a time, and prints the CPU every process spends per start at each step, with
its ratio to the bare start's in the same run:

1. bare: BenchTrivial, returns at once (the baseline of `bench intake`);
2. stays open: BenchFloor, waits for a signal (an incident is open for hours or days);
3. + the desk's two search attributes at start (DeskParty, DeskLevel: the board and the doctor list by them);
4. + a timer (the clock: the next rung);
5. + a no-op local activity in the first task (the record and the first try of 【新交办】, as the desk does it);
6. + a no-op activity (a notice sent outside the first task: a second workflow task);
7. the desk: POST /api/incidents over HTTP (validate, the SQL rows, start) and the desk's worker (its first
   task, the record, 【新交办】 sent to the local receiver and its attempt logged).

Steps 1–6 run in one worker process of their own (bench/trivial.py, the SDK's default sandbox) and are started
by this process with `client.start_workflow`, 32 in flight, like `bench intake`'s baseline. Every step is
metered from its first start until the processes have gone quiet (every first task done, every activity run).

Run: python -m bench floor [--incidents N] [--quick]
"""

from __future__ import annotations

import asyncio
import time
import uuid

from temporalio.common import SearchAttributePair, TypedSearchAttributes

from bench.common import (
    CpuMeter,
    Stack,
    bounded,
    cpu_seconds,
    log,
    machine,
    parser,
    print_table,
    terminate,
    warm_up,
)
from bench.trivial import FloorWorkflow, TrivialWorkflow
from desk import ids

TARGET_CPU_RATIO = 2.5
STEPS: list[tuple[str, list[str] | None, bool]] = [  # (name, BenchFloor's steps or None for BenchTrivial, attributes)
    ("1 bare start, returns at once", None, False),
    ("2 stays open", [], False),
    ("3 + two search attributes", [], True),
    ("4 + a timer", ["timer"], True),
    ("5 + a local activity in the first task", ["local", "timer"], True),
    ("6 + an activity (a second task)", ["local", "activity", "timer"], True),
]


async def wait_idle(pids: list[int], window: float = 1.0, busy: float = 0.03, timeout: float = 600) -> None:
    """Until the processes together spend less than `busy` of a core over `window` seconds."""
    end = time.monotonic() + timeout
    last = sum(cpu_seconds(p) for p in pids)
    while time.monotonic() < end:
        await asyncio.sleep(window)
        now = sum(cpu_seconds(p) for p in pids)
        if now - last < busy * window:
            return
        last = now
    raise TimeoutError(f"still busy after {timeout}s")


async def step(stack: Stack, queue: str, worker_pid: int, n: int, concurrency: int,
               floor: list[str] | None, attributes: bool, warm: int = 30, idle_seconds: float = 3) -> dict[str, float]:
    run = uuid.uuid4().hex[:6]
    sa = TypedSearchAttributes([SearchAttributePair(ids.PARTY_ATTR, "bazhou"),
                                SearchAttributePair(ids.LEVEL_ATTR, "III")]) if attributes else None

    async def start(i: int) -> None:
        wid = f"floor-{run}-{i}"
        if floor is None:
            await stack.client.start_workflow(TrivialWorkflow.run, i, id=wid, task_queue=queue)
        else:
            await stack.client.start_workflow(FloorWorkflow.run, floor, id=wid, task_queue=queue,
                                              search_attributes=sa)

    await bounded(warm, concurrency, start)  # warm this shape: the server's caches, the worker's definitions
    await wait_idle([stack.procs["temporal"].pid, worker_pid])
    idle = CpuMeter({"server": stack.procs["temporal"].pid, "worker": worker_pid}).start()
    await asyncio.sleep(idle_seconds)
    idle_cpu = idle.stop()
    meter = CpuMeter({"server": stack.procs["temporal"].pid, "worker": worker_pid, "client": None}).start()
    t0 = time.perf_counter()
    await bounded(n, concurrency, lambda i: start(warm + i))
    t1 = time.perf_counter()
    burst = meter.stop()
    await wait_idle([stack.procs["temporal"].pid, worker_pid])
    t2 = time.perf_counter()
    # most of a bare workflow's CPU comes after its start has returned: the worker runs it, the server closes it
    log(f"  idle {idle_seconds:.0f} s before: {fmt(idle_cpu)} s; the starts took {t1 - t0:.1f} s: {fmt(burst)} s; "
        f"{t2 - t1:.1f} s more until quiet")
    return meter.stop()


async def desk(stack: Stack, n: int, concurrency: int) -> dict[str, float]:
    await warm_up(stack)
    pids = [stack.procs["temporal"].pid, stack.procs["api"].pid, stack.workers[0].pid]
    await wait_idle(pids)
    meter = CpuMeter({"server": pids[0], "API": pids[1], "worker": pids[2], "client": None}).start()
    results = await bounded(n, concurrency, lambda i: stack.open())
    failed = [r for _, r in results if r.status_code != 201]
    if failed:
        raise RuntimeError(f"{len(failed)} opens failed, e.g. {failed[0].status_code} {failed[0].text[:300]}")
    await wait_idle(pids)
    return meter.stop()


def fmt(spent: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in spent.items())


def per(spent: dict[str, float], n: int) -> dict[str, float]:
    return {k: 1000 * v / n for k, v in spent.items()}


async def main(argv: list[str]) -> None:
    p = parser(__doc__.split("\n")[0], workers="1")
    p.add_argument("--incidents", type=int, default=600, help="starts per step (default 600)")
    args = p.parse_args(argv)
    n = 40 if args.quick else args.incidents
    log(machine())
    stack = await Stack(policy="bazhong", database_url=args.database_url, keep=args.keep).start(workers=1)
    queue, baseline_worker = stack.start_baseline_worker()
    try:
        figures: list[tuple[str, dict[str, float]]] = []
        for name, floor, attributes in STEPS:
            spent = per(await step(stack, queue, baseline_worker.pid, n, args.concurrency, floor, attributes,
                                   *((10, 1) if args.quick else (30, 3))), n)
            log(f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in spent.items()) + f" (total {sum(spent.values()):.2f} ms)")
            figures.append((name, spent))
        terminate(baseline_worker)
        spent = per(await desk(stack, n, args.concurrency), n)
        log("7 the desk: " + ", ".join(f"{k} {v:.2f}" for k, v in spent.items()) + f" (total {sum(spent.values()):.2f} ms)")
        figures.append(("7 the desk, opened over HTTP", spent))
    finally:
        terminate(baseline_worker)
        await stack.stop()
    bare = sum(figures[0][1].values())
    rows = []
    for name, spent in figures:
        total = sum(spent.values())
        parts = ", ".join(f"{k} {v:.1f}" for k, v in spent.items())
        rows.append((f"CPU per start: {name}", f"{total:.1f} ms ({parts})", f"bare {bare:.1f} ms", f"{total / bare:.2f}×"))
    server = {name: spent["server"] for name, spent in figures}
    rows.append(("server CPU alone, the desk vs the whole bare start", f"{server[figures[-1][0]]:.1f} ms",
                 f"bare {bare:.1f} ms", f"{server[figures[-1][0]] / bare:.2f}× (target for all: ≤ {TARGET_CPU_RATIO}×)"))
    print_table(f"floor ({n} starts per step, one dev server, {stack.db_url.split(':')[0]})", rows)


if __name__ == "__main__":
    import sys

    asyncio.run(main(sys.argv[1:]))
