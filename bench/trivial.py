"""The baseline: a trivial workflow and its worker, to measure what bare Temporal does on this machine.

Run: python -m bench.trivial ADDRESS TASK_QUEUE
"""

from __future__ import annotations

import asyncio
import sys

from temporalio import workflow


@workflow.defn(name="BenchTrivial")
class TrivialWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        return n


async def main(address: str, task_queue: str) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address)
    await Worker(client, task_queue=task_queue, workflows=[TrivialWorkflow]).run()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1], sys.argv[2]))
    except KeyboardInterrupt:
        pass
