"""The worker's full garbage collections while incidents are opened and evicted from its cache.

Each full collection walks every object the worker's Python heap tracks and stops all its threads meanwhile:
workflow tasks, activities and polling. With more incidents open than the cache holds (10,000 open, 1,000 cached
by default), every instance evicted is cyclic garbage that only a full collection frees, so they come every few
seconds, and a reminder due during one waits for it (bench clocks' lateness p99).

A Temporal dev server, stub activities (no SQL, no HTTP), and for each variant a worker in a fresh process, with
the deployed sandbox runner (worker.WORKFLOW_RUNNER) and a small cache: `--incidents` opened (the API's input,
the bazhong preset) in batches of 100, most of them evicted again. Python's own gc callbacks time every full
collection (generation 2). Variants:

- before: the heap as it grows, every object the worker loaded at start walked by every full collection;
- settled: `worker.settle_heap()` after the warm-up, as `worker.main` does before it polls (gc.freeze).

Run: python -m bench pauses [--quick] [--incidents N] [--cache N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.cached import BIN, CALLS, deliver, open_incidents, record_batch
from bench.common import log, machine, print_table

VARIANTS = {"before": "the startup heap walked by every full collection",
            "settled": "worker.settle_heap() before polling (as deployed)"}
WARM = 20


async def _quiet(expected: int, quiet: float = 1.0, timeout: float = 900) -> None:
    """Until every incident opened has sent its 【新交办】 and nothing more happens."""
    deadline, last, since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        seen = dict(CALLS)
        if seen != last:
            last, since = seen, time.monotonic()
        elif CALLS["deliver"] >= expected and time.monotonic() - since > quiet:
            return
        await asyncio.sleep(0.25)
    raise TimeoutError(f"{CALLS['deliver']} of {expected} sent after {timeout} s")


async def one_variant(address: str, variant: str, n: int, cache: int) -> dict:
    import worker
    from workflows.incident import IncidentWorkflow

    worker.share_workflow_code()
    client = await Client.connect(address)
    task_queue = f"pauses-{uuid.uuid4().hex[:8]}"
    pauses: list[float] = []
    started = [0.0]

    def timed(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        elif info["generation"] == 2:
            pauses.append(time.perf_counter() - started[0])

    async with Worker(client, task_queue=task_queue, workflows=[IncidentWorkflow], workflow_runner=worker.WORKFLOW_RUNNER,
                      activities=[deliver, record_batch], max_cached_workflows=cache,
                      graceful_shutdown_timeout=timedelta(0)):
        await open_incidents(client, task_queue, range(WARM))
        await _quiet(WARM)
        frozen = worker.settle_heap() if variant == "settled" else 0
        gc.callbacks.append(timed)
        cpu = time.process_time()
        for first in range(WARM, WARM + n, 100):
            await open_incidents(client, task_queue, range(first, min(first + 100, WARM + n)))
        await _quiet(WARM + n)
        cpu = time.process_time() - cpu
        gc.callbacks.remove(timed)
        walked = len(gc.get_objects())  # what a full collection walks now (the frozen ones are not listed)
    return {"count": len(pauses), "total": sum(pauses), "max": max(pauses, default=0.0), "cpu": cpu,
            "walked": walked, "frozen": frozen}


def child(address: str, variant: str, n: int, cache: int) -> dict:
    """One variant in a fresh process: the other's heap is not this one's."""
    out = subprocess.run([sys.executable, "-m", "bench.pauses", "--child", address, variant, str(n), str(cache)],
                         capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:  # the result is printed before the worker's shutdown, whose exit code is not this figure's
        raise RuntimeError(f"{variant}: exit {out.returncode}\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--child":
        address, variant, n, cache = argv[1], argv[2], int(argv[3]), int(argv[4])
        print(json.dumps(asyncio.run(one_variant(address, variant, n, cache))), flush=True)
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--incidents", type=int, default=2000, help="incidents opened per variant (default 2000)")
    p.add_argument("--cache", type=int, default=300, help="the worker's cache (default 300)")
    p.add_argument("--rounds", type=int, default=2, help="each variant this many times, alternating (default 2)")
    p.add_argument("--quick", action="store_true", help="a smoke run: 200 incidents, cache 50, one round")
    args = p.parse_args(argv)
    if args.quick:
        args.incidents, args.cache, args.rounds = 200, 50, 1
    print(f"full garbage collections in the worker · {machine()}", flush=True)

    async def run() -> None:
        env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(BIN / "temporal"),
                                                    dev_server_log_level="error")
        address = env.client.service_client.config.target_host
        try:
            got: dict[str, list[dict]] = {v: [] for v in VARIANTS}
            for _ in range(args.rounds):
                for variant in VARIANTS:
                    r = await asyncio.to_thread(child, address, variant, args.incidents, args.cache)
                    got[variant].append(r)
                    log(f"{variant}: {r['count']} full collections, {r['total'] * 1000:.0f} ms in all, "
                        f"longest {r['max'] * 1000:.0f} ms; {r['walked']} objects walked at the end "
                        f"({r['frozen']} left out); worker CPU {r['cpu']:.1f} s")
        finally:
            await env.shutdown()

        def mean(variant: str, key: str) -> float:
            return sum(r[key] for r in got[variant]) / len(got[variant])

        rows = []
        for key, what, scale, unit in [("total", "time in full collections", 1000, "ms"),
                                       ("max", "longest full collection (every thread stopped)", 1000, "ms"),
                                       ("count", "full collections", 1, ""), ("walked", "objects a full collection walks", 1, ""),
                                       ("cpu", "worker CPU, opening them", 1, "s")]:
            before, settled = mean("before", key) * scale, mean("settled", key) * scale
            rows.append((f"{what}, {args.incidents} opened, cache {args.cache}", f"{settled:,.1f} {unit}".strip(),
                         f"before: {before:,.1f} {unit}".strip(), f"{settled / before:.2f}×" if before else "-"))
        print_table(f"pauses: full garbage collections (mean of {args.rounds} run(s) each; the variants alternate)", rows)

    asyncio.run(run())


if __name__ == "__main__":
    main(sys.argv[1:])
