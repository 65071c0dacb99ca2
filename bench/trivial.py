"""Baselines: trivial workflows and their worker, to measure what bare Temporal does on this machine.

- BenchTrivial: returns at once (the bare start_workflow rate).
- BenchTimer: sleeps until a given moment, then one activity posts to the receiver (timer lateness).
- BenchWaiting: waits; its update `touch` runs one no-op local activity and returns (bare update round trip,
  the same shape as the desk's actions, whose SQL write is a local activity).
- BenchFloor: the least an open incident could be, step by step (bench/floor.py): it stays open, and, as its
  steps ask, runs a no-op local activity in its first task (the record), keeps a timer (the clock) and runs a
  no-op activity (a notice sent outside the first task).

Run: python -m bench.trivial ADDRESS TASK_QUEUE [RECEIVER_URL] [METRICS_PORT]
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta

from temporalio import activity, workflow


@workflow.defn(name="BenchTrivial")
class TrivialWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        return n


@workflow.defn(name="BenchTimer")
class TimerWorkflow:
    @workflow.run
    async def run(self, at: float) -> None:
        delay = at - workflow.now().timestamp()
        if delay > 0:
            await workflow.sleep(delay)
        await workflow.execute_activity("bench_post", workflow.info().workflow_id,
                                        start_to_close_timeout=timedelta(seconds=30))


@workflow.defn(name="BenchWaiting")
class WaitingWorkflow:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.done)

    @workflow.update
    async def touch(self, n: int) -> int:
        await workflow.execute_local_activity("bench_noop", n, start_to_close_timeout=timedelta(seconds=30))
        return n

    @workflow.signal
    def finish(self) -> None:
        self.done = True


@workflow.defn(name="BenchFloor")
class FloorWorkflow:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self, steps: list[str]) -> None:
        if "local" in steps:
            await workflow.execute_local_activity("bench_noop", 0, start_to_close_timeout=timedelta(seconds=30))
        if "activity" in steps:
            await workflow.execute_activity("bench_noop", 0, start_to_close_timeout=timedelta(seconds=30))
        try:
            await workflow.wait_condition(lambda: self.done,
                                          timeout=timedelta(hours=48) if "timer" in steps else None)
        except TimeoutError:
            pass

    @workflow.signal
    def finish(self) -> None:
        self.done = True


async def main(address: str, task_queue: str, receiver: str = "", metrics_port: str = "") -> None:
    import httpx
    from temporalio.client import Client
    from temporalio.worker import Worker

    http = httpx.AsyncClient(timeout=30)

    @activity.defn(name="bench_post")
    async def post(workflow_id: str) -> None:
        await http.post(f"{receiver}/baseline", json={"title": workflow_id, "message": str(time.time())})

    @activity.defn(name="bench_noop")
    async def noop(n: int) -> int:
        return n

    # the SDK's metrics, as the desk's workers serve them: how many workflow tasks this worker has run
    if metrics_port:
        from desk.temporal import metrics_runtime  # here, not at the top: the sandbox imports this module per run

        client = await Client.connect(address, runtime=metrics_runtime(int(metrics_port), "127.0.0.1"))
    else:
        client = await Client.connect(address)
    await Worker(client, task_queue=task_queue, workflows=[TrivialWorkflow, TimerWorkflow, WaitingWorkflow, FloorWorkflow],
                 activities=[post, noop]).run()


if __name__ == "__main__":
    try:
        asyncio.run(main(*sys.argv[1:]))
    except KeyboardInterrupt:
        pass
