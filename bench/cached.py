"""Worker memory per cached incident: what a cached IncidentWorkflow instance keeps, and why.

A Temporal dev server, stub activities (no SQL, no HTTP), and for each variant a worker in a fresh process
(what one variant freed does not lower the next one's growth): N incidents opened (the API's input:
opened_recorded, the bazhong preset), each then waiting for its first rung, all cached. The figure is the
growth of resident memory (RSS, after `malloc_trim`, so freed heap is not counted) divided by N. Variants:

- bare: a workflow that only waits (bench.trivial.WaitingWorkflow), not sandboxed: the SDK's and the Rust
  core's share of any cached workflow;
- bare-sandboxed: the same waiting workflow in the SDK's default sandbox (`SandboxedWorkflowRunner()`, as a
  worker runs any workflow unless told otherwise): the floor of a sandboxed workflow, whatever it does;
- unsandboxed: IncidentWorkflow without the sandbox: the above plus the desk's state and decoded input;
- desk-before: the worker's sandbox runner without this round's two changes (every instance its own Policy
  copy, every instance holding on to its first activation's protobuf arena);
- desk: the worker's sandbox runner (worker.WORKFLOW_RUNNER), as deployed.

The differences are the categories. --trace runs each variant again with tracemalloc on (slow: it opens in
small batches so that workflow tasks do not time out) and prints Python's own allocations per incident, by
file; RSS minus that is the Rust core, protobuf arenas and the allocators' overhead.

Run: python -m bench cached [--quick] [--incidents N] [--variants bare,bare-sandboxed,unsandboxed,desk-before,desk] [--trace]
(BENCH_TRACE_FRAMES=12 with --trace: the biggest allocations' tracebacks too)
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import (
    UnsandboxedWorkflowRunner,
    Worker,
    WorkflowInstance,
    WorkflowInstanceDetails,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from bench.common import log, machine, print_table, rss_kb
from bench.trivial import WaitingWorkflow
from desk.messages import ChannelResult, Deliver, Delivered, IncidentFacts, IncidentInput, RecordBatch
from desk.policy import load_policy
from worker import WORKFLOW_RUNNER, share_workflow_code
from workflows.incident import PATCH_LEVEL, IncidentWorkflow

BIN = Path(sys.executable).parent
CALLS: Counter[str] = Counter()
TARGET_KB = 50
FRAMES = int(os.environ.get("BENCH_TRACE_FRAMES", "1"))  # >1: --trace also lists the biggest tracebacks
_LIBC = ctypes.CDLL("libc.so.6") if sys.platform.startswith("linux") else None


@activity.defn(name="deliver")
async def deliver(d: Deliver) -> Delivered:
    CALLS["deliver"] += 1
    return Delivered(matched=len(d.tags), results=[ChannelResult(channel_id=t, status="delivered") for t in d.tags])


@activity.defn(name="record_batch")
async def record_batch(_b: RecordBatch) -> None:
    CALLS["record_batch"] += 1


def resident_kb() -> int:
    """RSS once Python's garbage is collected and malloc has given its free memory back to the system."""
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
    return rss_kb(os.getpid())


async def open_incidents(client: Client, task_queue: str, ids: range) -> None:
    policy = load_policy("bazhong")
    detected = datetime.now(UTC)
    sem = asyncio.Semaphore(10)

    async def one(i: int) -> None:
        facts = IncidentFacts(incident_id=i, human_id=f"YQ-2026-{i:06d}", title="某小区燃气泄漏引发网络关注",
                              category="accident", level="III", party_code="bazhou", party_name="巴州区人民政府",
                              reporter="duty", detected_at=detected, opened_at=detected, source="weibo")
        async with sem:
            await client.start_workflow(
                IncidentWorkflow.run,
                IncidentInput(facts=facts, policy=policy, public_url="http://desk.test", opened_recorded=True,
                              patch_level=PATCH_LEVEL),  # as the API starts them
                id=f"incident-cached-{uuid.uuid4().hex[:12]}", task_queue=task_queue)

    await asyncio.gather(*(one(i) for i in ids))


async def open_waiting(client: Client, task_queue: str, ids: range) -> None:
    sem = asyncio.Semaphore(10)

    async def one(_i: int) -> None:
        async with sem:
            await client.start_workflow(WaitingWorkflow.run, id=f"waiting-cached-{uuid.uuid4().hex[:12]}",
                                        task_queue=task_queue)

    await asyncio.gather(*(one(i) for i in ids))


async def settle(worker: Worker, expected: int, quiet: float = 2.0, timeout: float = 900) -> None:
    """Until `expected` workflows are cached and nothing more happens (their first tasks and sends are done)."""
    running = worker._workflow_worker._running_workflows  # type: ignore[union-attr]  # the SDK's cache
    deadline = time.monotonic() + timeout
    last, quiet_since = None, time.monotonic()
    while time.monotonic() < deadline:
        seen = (len(running), CALLS["deliver"], CALLS["record_batch"])
        if seen != last:
            last, quiet_since = seen, time.monotonic()
        elif len(running) >= expected and time.monotonic() - quiet_since > quiet:
            return
        await asyncio.sleep(0.25)
    raise TimeoutError(f"{len(running)} of {expected} cached after {timeout} s ({dict(CALLS)})")


Opener = Callable[[Client, str, range], object]


async def measure(env: WorkflowEnvironment, workflow: type, runner: WorkflowRunner, opener: Opener, n: int,
                  batch: int | None = None, trace: bool = False) -> dict:
    """RSS (and with ``trace`` the Python heap by file) per cached workflow, over ``n`` opened after a warm-up."""
    task_queue = f"cached-{uuid.uuid4().hex[:8]}"
    warm = 20
    async with Worker(env.client, task_queue=task_queue, workflows=[workflow], workflow_runner=runner,
                      activities=[deliver, record_batch], max_cached_workflows=n + warm + 100,
                      graceful_shutdown_timeout=timedelta(0)) as worker:
        await opener(env.client, task_queue, range(warm))  # type: ignore[misc]
        await settle(worker, warm)
        if trace:
            tracemalloc.start(FRAMES)
        rss0, snap0 = resident_kb(), tracemalloc.take_snapshot() if trace else None
        step = batch or n
        for first in range(warm, warm + n, step):
            await opener(env.client, task_queue, range(first, min(first + step, warm + n)))  # type: ignore[misc]
            await settle(worker, min(first + step, warm + n), quiet=1.0 if batch else 2.0)
        rss1 = resident_kb()
        result: dict = {"rss": (rss1 - rss0) / n}
        if trace and snap0:
            snap1 = tracemalloc.take_snapshot()
            tracemalloc.stop()
            by_file = snap1.compare_to(snap0, "filename")
            result["heap"] = sum(s.size_diff for s in by_file) / 1024 / n
            result["by_file"] = [(s.traceback[0].filename, s.size_diff / 1024 / n, s.count_diff / n) for s in by_file]
            if FRAMES > 1:
                result["by_trace"] = [(s.traceback.format(), s.size_diff / 1024 / n, s.count_diff / n)
                                      for s in snap1.compare_to(snap0, "traceback")[:60]]
        return result


VARIANTS = {
    "bare": "bare waiting workflow, unsandboxed (SDK + core)",
    "bare-sandboxed": "bare waiting workflow, the SDK's default sandbox",
    "unsandboxed": "incident, unsandboxed (+ its input and state)",
    "desk-before": "incident, worker's sandbox runner, before",
    "desk": "incident, worker's sandbox runner (as deployed)",
}


def _before() -> None:
    """This process as before issue 17's second round: each instance decodes its own Policy copy, and keeps its
    first activation's protobuf arena (worker._without_first_activation, desk.policy.shared)."""
    import desk.messages
    import worker

    desk.messages.shared = lambda policy: policy  # type: ignore[assignment]
    worker._without_first_activation = lambda det: det  # type: ignore[assignment]


class _Unsandboxed(UnsandboxedWorkflowRunner):
    """No sandbox, with the deployed runner's release of the first activation (what is left is not the sandbox's)."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        import worker

        return super().create_instance(worker._without_first_activation(det))


async def one_variant(address: str, variant: str, n: int, trace: bool) -> dict:
    env = WorkflowEnvironment.from_client(await Client.connect(address))
    if variant in ("bare", "bare-sandboxed"):
        runner = UnsandboxedWorkflowRunner() if variant == "bare" else SandboxedWorkflowRunner()
        return await measure(env, WaitingWorkflow, runner, open_waiting, n, trace=trace, batch=25 if trace else None)
    if variant == "desk-before":
        _before()
    runner = _Unsandboxed() if variant == "unsandboxed" else WORKFLOW_RUNNER
    return await measure(env, IncidentWorkflow, runner, open_incidents, n, trace=trace, batch=25 if trace else None)


def child(address: str, variant: str, n: int, trace: bool, tries: int = 2) -> dict:
    """One variant in a fresh process (what one measured does not lower or raise the next one's RSS). A child that
    fails is run once more, its error printed: one smoke run failed once on 2026-12-01 and passed in five runs after,
    its error not kept (a sandbox that fails to load a workflow module now and then on Python 3.11,
    temporalio/sdk-python#1833, would look like that); a failure twice in a row is raised."""
    for attempt in range(1, tries + 1):
        out = subprocess.run([sys.executable, "-m", "bench.cached", "--child", address, variant, str(n),
                              str(int(trace))], capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if out.returncode == 0 and lines:
            return json.loads(lines[-1])
        error = f"{variant}: exit {out.returncode}\n{out.stderr[-3000:]}"
        if attempt == tries:
            raise RuntimeError(error)
        log(f"{variant} failed, run again: {error.strip().splitlines()[-1][:300]}")
    raise AssertionError("unreachable")


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--child":
        address, variant, n, trace = argv[1], argv[2], int(argv[3]), argv[4] == "1"
        share_workflow_code()
        print(json.dumps(asyncio.run(one_variant(address, variant, n, trace))), flush=True)
        return
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--incidents", type=int, default=500, help="incidents per variant (default 500)")
    p.add_argument("--trace", action="store_true", help="also tracemalloc's Python allocations per incident, by file")
    p.add_argument("--top", type=int, default=30, help="files listed with --trace (default 30)")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"some of {','.join(VARIANTS)}")
    p.add_argument("--quick", action="store_true", help="a smoke run: 30 incidents per variant")
    args = p.parse_args(argv)
    if args.quick:
        args.incidents = 30
    print(f"cached-incident memory · {machine()}", flush=True)
    n = args.incidents

    async def run() -> None:
        env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(BIN / "temporal"),
                                                    dev_server_log_level="error")
        address = env.client.service_client.config.target_host
        try:
            got: dict[str, dict] = {}
            for variant in args.variants.split(","):
                got[variant] = await asyncio.to_thread(child, address, variant, n, False)
                log(f"{VARIANTS[variant]}: {got[variant]['rss']:.1f} KB RSS per cached workflow")
                if args.trace:
                    traced = await asyncio.to_thread(child, address, variant, n, True)
                    got[variant]["heap"] = traced["heap"]
                    print(f"tracemalloc, {VARIANTS[variant]}: Python heap {traced['heap']:.1f} KB per cached workflow "
                          f"(RSS {traced['rss']:.1f} KB with tracing on)")
                    for filename, kb, blocks in traced["by_file"][:args.top]:
                        print(f"  {kb:7.2f} KB {blocks:7.1f} blocks  {filename}")
                    for lines, kb, blocks in traced.get("by_trace", []):
                        print(f"  --- {kb:7.2f} KB {blocks:7.1f} blocks")
                        print("\n".join(f"      {line}" for line in lines))
            rows = []
            for variant, r in got.items():
                heap = f" (Python heap {r['heap']:.1f} KB)" if "heap" in r else ""
                deployed = variant.startswith("desk")
                verdict = ("met" if r["rss"] <= TARGET_KB else "missed") if deployed else "-"
                rows.append((VARIANTS[variant], f"{r['rss']:.1f} KB{heap}",
                             f"target ≤ {TARGET_KB} KB" if deployed else "-", verdict))
            if {"desk", "unsandboxed"} <= got.keys():
                sandbox = got["desk"]["rss"] - got["unsandboxed"]["rss"]
                rows.append(("  the sandbox's share (desk - unsandboxed)", f"{sandbox:.1f} KB", "-", "-"))
            if {"desk", "desk-before"} <= got.keys():
                saved = got["desk-before"]["rss"] - got["desk"]["rss"]
                rows.append(("  saved: one Policy per policy, first activation released", f"{saved:.1f} KB", "-",
                             f"{saved / got['desk-before']['rss']:.0%}"))
            if {"bare", "unsandboxed"} <= got.keys():
                rows.append(("  the incident's own share (unsandboxed - bare)",
                             f"{got['unsandboxed']['rss'] - got['bare']['rss']:.1f} KB", "-", "-"))
            print_table(f"cached: worker memory per cached workflow (RSS after malloc_trim, {n} each, a process each)", rows)
        finally:
            await env.shutdown()

    asyncio.run(run())


if __name__ == "__main__":
    main(sys.argv[1:])
