"""The Temporal worker: registers the incident, handover and report workflows and their activities; makes the
report schedules from the settings (desk/schedules.py)."""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from activities.notify import Notifier, load_channels
from activities.records import Recorder
from activities.reports import Reporter
from desk.blobs import blob_store
from desk.settings import Settings, get_settings
from workflows.handover import HandoverWorkflow
from workflows.incident import IncidentWorkflow
from workflows.report import ReportWorkflow

log = logging.getLogger("desk.worker")


def build_worker(client: Client, settings: Settings, *, task_queue: str | None = None,
                 database_url: str | None = None, graceful_shutdown: timedelta = timedelta(0)) -> Worker:
    """A worker for the desk's task queue. Raises at once if the notification config is broken.

    ``graceful_shutdown``: on stop, how long running activities may take to finish before they are
    cancelled (a cancelled one is retried by another worker, so this only saves a retry)."""
    recorder = Recorder(database_url)
    notifier = Notifier(load_channels(settings.notify_config), database_url)
    reporter = Reporter(notifier, blob_store(settings.data_dir), database_url)
    _cache_workflow_bytecode()
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=[IncidentWorkflow, HandoverWorkflow, ReportWorkflow],
        activities=[recorder.record_batch, notifier.deliver, recorder.record_handover,
                    reporter.make_report, reporter.send_report,
                    recorder.record_event, notifier.send_notification],  # the last two: runs before "durable-delivery"
        activity_executor=ThreadPoolExecutor(max_workers=32),
        max_concurrent_activities=32,
        max_cached_workflows=settings.worker_max_cached_workflows,
        graceful_shutdown_timeout=graceful_shutdown,
    )


async def _report_schedules(client: Client, settings: Settings) -> None:
    """The weekly and monthly report schedules, as the settings say (every worker; the ids keep one of each).
    A schedule that cannot be made is logged: the incidents' clocks do not wait on the reports."""
    from desk.schedules import ensure_report_schedules

    try:
        await ensure_report_schedules(client, settings)
    except Exception:
        log.exception("the report schedules could not be created or updated (check DESK_REPORT_* settings)")


def _cache_workflow_bytecode() -> None:
    """The sandbox imports the workflow module afresh for every workflow it starts or replays; with no
    cached bytecode (PYTHONDONTWRITEBYTECODE, as in the image) each import compiles the source again,
    a fifth of the worker's CPU under load (bench/). Write the .pyc once; a read-only tree just skips it."""
    import compileall

    import workflows

    compileall.compile_dir(Path(workflows.__file__).parent, quiet=2)


async def main(settings: Settings | None = None) -> None:
    from desk.db import init_db
    from desk.temporal import connect, ensure_search_attributes, metrics_runtime

    settings = settings or get_settings()
    load_channels(settings.notify_config)  # a broken notify config stops the worker first, naming the line
    init_db()
    runtime = metrics_runtime(settings.worker_metrics_port) if settings.worker_metrics_port else None
    client = await connect(settings, runtime=runtime)
    await ensure_search_attributes(client)
    await _report_schedules(client, settings)
    # `docker stop` sends SIGTERM: stop polling, let running activities finish (compose allows 30 s).
    worker = build_worker(client, settings, graceful_shutdown=timedelta(seconds=20))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    log.info("worker %s polling task queue %s at %s (namespace %s)%s", client.identity, worker.task_queue,
             settings.resolved_temporal_address, settings.temporal_namespace,
             f"; SDK metrics on :{settings.worker_metrics_port}/metrics" if runtime else "")
    running = asyncio.create_task(worker.run())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if stopping.done():
        log.info("worker %s stopping: finishing running activities", client.identity)
        await worker.shutdown()
    stopping.cancel()
    await running  # a fatal worker error ends the process with it


if __name__ == "__main__":
    asyncio.run(main())
