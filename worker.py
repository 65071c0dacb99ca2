"""The Temporal worker: registers the incident workflow and its activities, nothing else."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from activities.notify import Notifier, load_channels
from activities.records import Recorder
from desk.settings import Settings, get_settings
from workflows.incident import IncidentWorkflow


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
    from desk.temporal import connect, ensure_search_attributes

    settings = settings or get_settings()
    init_db()
    client = await connect(settings)
    await ensure_search_attributes(client)
    worker = build_worker(client, settings)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
