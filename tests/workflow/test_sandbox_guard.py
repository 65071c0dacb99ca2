"""The worker's own sandbox runner (worker.py: shared code objects, payload contexts read outside the sandbox)
still guards determinism: workflow code that reads the wall clock is refused, as with the SDK's plain runner."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from temporalio import workflow
from temporalio.client import WorkflowFailureError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError

from worker import WORKFLOW_RUNNER, share_workflow_code


@workflow.defn(sandboxed=True)
class ReadsTheWallClock:
    @workflow.run
    async def run(self) -> str:
        return datetime.now().isoformat()  # what a workflow must never do (workflow.now() is the replayable time)


async def test_workflow_code_reading_the_wall_clock_is_refused_by_the_workers_sandbox(time_skipping_env):
    env = time_skipping_env
    share_workflow_code()
    task_queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=task_queue, workflows=[ReadsTheWallClock], workflow_runner=WORKFLOW_RUNNER,
                      workflow_failure_exception_types=[RestrictedWorkflowAccessError]):
        with pytest.raises(WorkflowFailureError) as failed:
            await env.client.execute_workflow(ReadsTheWallClock.run, id=f"wall-clock-{uuid.uuid4().hex[:6]}",
                                              task_queue=task_queue)
    assert "datetime.datetime.now" in str(failed.value.cause)
