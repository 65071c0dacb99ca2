"""The Temporal worker: registers the incident workflow and its activities, nothing else."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from activities.notify import Notifier, load_channels
from activities.records import Recorder
from desk.settings import Settings, get_settings
from workflows.incident import IncidentWorkflow

log = logging.getLogger("desk.worker")


def build_worker(client: Client, settings: Settings, *, task_queue: str | None = None,
                 database_url: str | None = None) -> Worker:
    """A worker for the desk's task queue. Raises at once if the notification config is broken."""
    recorder = Recorder(database_url)
    notifier = Notifier(load_channels(settings.notify_config), database_url)
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=[IncidentWorkflow],
        activities=[recorder.record_event, notifier.send_notification],
        activity_executor=ThreadPoolExecutor(max_workers=32),
        max_concurrent_activities=32,
    )


async def main(settings: Settings | None = None) -> None:
    from desk.db import init_db
    from desk.temporal import connect, ensure_search_attributes, metrics_runtime

    settings = settings or get_settings()
    init_db()
    runtime = metrics_runtime(settings.worker_metrics_port) if settings.worker_metrics_port else None
    client = await connect(settings, runtime=runtime)
    await ensure_search_attributes(client)
    worker = build_worker(client, settings)
    log.info("worker %s polling task queue %s at %s (namespace %s)%s", client.identity, worker.task_queue,
             settings.resolved_temporal_address, settings.temporal_namespace,
             f"; SDK metrics on :{settings.worker_metrics_port}/metrics" if runtime else "")
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
