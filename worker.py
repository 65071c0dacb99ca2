"""The Temporal worker: registers the incident, handover and report workflows and their activities; makes the
report schedules from the settings (desk/schedules.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import importlib.machinery
import importlib.util
import logging
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from types import CodeType, ModuleType
from typing import Any

from temporalio.client import Client
from temporalio.worker import (
    ExecuteWorkflowInput,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInstance,
    WorkflowInstanceDetails,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.notify import Notifier, load_channels
from activities.records import Recorder
from activities.reports import Reporter
from desk import sdk_shortcuts
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
    share_workflow_code()
    return Worker(
        client,
        task_queue=task_queue or settings.temporal_task_queue,
        workflows=[IncidentWorkflow, HandoverWorkflow, ReportWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
        activities=[recorder.record_batch, notifier.deliver, recorder.record_handover,
                    reporter.make_report, reporter.send_report,
                    recorder.record_event, notifier.send_notification],  # the last two: runs before "durable-delivery"
        activity_executor=ThreadPoolExecutor(max_workers=32),
        max_concurrent_activities=32,
        max_cached_workflows=settings.worker_max_cached_workflows,
        max_concurrent_workflow_tasks=workflow_task_slots(settings.worker_max_cached_workflows),
        graceful_shutdown_timeout=graceful_shutdown,
    )


WORKFLOW_TASK_SLOTS = 100  # the SDK's default


def workflow_task_slots(cached: int) -> int:
    """How many workflow tasks the worker takes at once: the SDK's 100, but no more than a quarter of its sticky cache.

    With a burst of incidents larger than the cache and as many tasks in hand as the cache holds (or half of it),
    the SDK evicted incidents in the middle of their tasks, the tasks ran past their 10 s and were tried again, and
    a 【新交办】 whose post was cut off went again (up to 5 times) while actions answered 503 "Workflow Task in failed
    state" (tests/system/test_load.py, a cache of 20; the SDK asks for at least two tasks). A cache of 400 or more
    keeps the SDK's 100."""
    return max(2, min(WORKFLOW_TASK_SLOTS, cached // 4))


async def _report_schedules(client: Client, settings: Settings) -> None:
    """The weekly and monthly report schedules, as the settings say (every worker; the ids keep one of each).
    A schedule that cannot be made is logged: the incidents' clocks do not wait on the reports."""
    from desk.schedules import ensure_report_schedules

    try:
        await ensure_report_schedules(client, settings)
    except Exception:
        log.exception("the report schedules could not be created or updated (check DESK_REPORT_* settings)")


def _workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox runner, with the payload-context shortcut below when this SDK has the class it builds on."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules("desk", "activities")
    try:  # a private class of the SDK (temporalio is pinned in requirements.lock): fall back if it moves
        from temporalio.worker.workflow_sandbox._runner import _Instance
    except ImportError:
        log.warning("temporalio has no workflow_sandbox._runner._Instance: the plain sandbox runner is used")
        return SandboxedWorkflowRunner(restrictions=restrictions)

    class Sandboxed(_Instance):
        """A sandboxed instance whose payload contexts are read without entering the sandbox, and whose glue lines
        are compiled once.

        The SDK asks the instance for a serialization context for every payload of every activation and
        completion (for a payload codec; the desk has none) and the sandbox answers each by `exec` of a line
        inside it: a third of the worker's CPU per activation (cProfile, bench/). The answer is the SDK's own
        code reading the instance's pending commands (no workflow code runs, nothing nondeterministic), so it
        is called directly on the sandbox's instance object. Workflow code still runs only inside the sandbox."""

        def _run_code(self, code: str, **extra_globals: Any) -> None:
            """The SDK's `_run_code`, given its few lines of code compiled once per process: it `exec`s a string,
            compiling it again for every activation of every instance."""
            super()._run_code(_compiled(code), **extra_globals)  # type: ignore[arg-type]  # exec takes either

        def get_serialization_context(self, command_info):  # noqa: ANN001, ANN201 (the SDK's signature)
            in_sandbox: Any = self.globals_and_locals["__temporal_in_sandbox"]
            return in_sandbox.get_serialization_context(command_info)

        def get_external_store_context(self, command_info):  # noqa: ANN001, ANN201
            in_sandbox: Any = self.globals_and_locals["__temporal_in_sandbox"]
            return in_sandbox.get_external_store_context(command_info)

    @dataclass(frozen=True)
    class DeskSandboxRunner(SandboxedWorkflowRunner):
        def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
            return Sandboxed(_without_first_activation(det), self.runner_class, self.restrictions)

    return DeskSandboxRunner(restrictions=restrictions)


@functools.cache
def _compiled(code: str) -> CodeType:
    """The sandbox's glue lines (enter the sandbox, import the workflow class, activate), compiled as `exec` would."""
    return compile(code, "<string>", "exec")


def _own_copy(message: Any) -> Any:
    """A protobuf message copied out of the arena it was decoded in (upb: a sub-message keeps its whole arena)."""
    copy = type(message)()
    copy.CopyFrom(message)
    return copy


class _OwnHeaders(WorkflowInboundInterceptor):
    """Lets go of the run's first activation once it has been applied.

    The SDK keeps the run's input for the run's life with ``headers`` pointing into the decoded first activation
    (protobuf upb: a sub-message, even an empty map, keeps its whole arena): the workflow's arguments as
    received, the start event's details, ~12 KB of every cached incident (bench cached). The run reads the
    same headers, copied. Changes no command: headers are only read."""

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        input.headers = {k: _own_copy(v) for k, v in input.headers.items()}  # the SDK keeps this same object
        return await super().execute_workflow(input)


def _without_first_activation(det: WorkflowInstanceDetails) -> WorkflowInstanceDetails:
    """The instance's details with nothing left pointing into its first activation (see `_OwnHeaders`)."""
    info = dataclasses.replace(det.info, headers={k: _own_copy(v) for k, v in det.info.headers.items()},
                               raw_memo={k: _own_copy(v) for k, v in det.info.raw_memo.items()})
    return dataclasses.replace(
        det, info=info, last_completion_result=_own_copy(det.last_completion_result),
        last_failure=_own_copy(det.last_failure) if det.last_failure is not None else None,
        interceptor_classes=[*det.interceptor_classes, _OwnHeaders])


# The sandbox runs the workflow modules afresh for every workflow instance it starts or rebuilds (fresh
# globals, bound to its restricted stand-ins for datetime, random, I/O…: the determinism guard). What they
# import from the desk's pure domain (clocks, messages, policy, vocab) and the activities' definitions is
# passed through: one shared copy, as the workflows' `imports_passed_through` blocks already ask; listed here
# too, so that a new import from them cannot silently become a per-instance copy. pydantic and the standard
# library pass through by default.
WORKFLOW_RUNNER = _workflow_runner()


class _SharedCodeLoader(importlib.machinery.SourceFileLoader):
    """Compiles (or unmarshals) a workflow module once per process; every sandboxed run of it executes the
    same code object with globals of its own."""

    code: dict[str, CodeType] = {}

    def get_code(self, fullname: str) -> CodeType:
        if self.path not in self.code:
            code = super().get_code(fullname)
            if code is None:
                raise ImportError(f"no code for {fullname}", name=fullname)
            self.code[self.path] = code
        return self.code[self.path]


class _SharedCodeFinder:
    """Finds the `workflows` package's modules for the sandbox's importer with `_SharedCodeLoader`.

    Without it, each workflow instance the worker starts or rebuilds after eviction reads the module's
    .pyc (or compiles its source: PYTHONDONTWRITEBYTECODE, as in the image) and keeps private code objects:
    ~160 of the ~225 KB a cached incident cost the worker, and a quarter of the CPU of creating an
    instance (docs/performance.md).
    Code objects are immutable, so sharing them keeps each instance's module state its own."""

    package = "workflows"

    def __init__(self) -> None:
        self.found: dict[str, tuple[str, list[str] | None]] = {}  # module -> (source path, package path)

    def find_spec(self, fullname: str, path: object = None, target: ModuleType | None = None):  # noqa: ANN201
        if fullname != self.package and not fullname.startswith(self.package + "."):
            return None
        if fullname not in self.found:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)  # type: ignore[arg-type]
            if spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader or not spec.origin:
                return spec
            self.found[fullname] = (spec.origin, spec.submodule_search_locations)
        origin, locations = self.found[fullname]
        return importlib.util.spec_from_file_location(fullname, origin, loader=_SharedCodeLoader(fullname, origin),
                                                      submodule_search_locations=locations)


def share_workflow_code() -> None:
    """Install `_SharedCodeFinder` ahead of the path finder, and the SDK shortcuts its shared code objects make
    possible (desk/sdk_shortcuts.py), once per process."""
    if not any(isinstance(f, _SharedCodeFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SharedCodeFinder())
    sdk_shortcuts.install()


def settle_heap() -> int:
    """Keep what the worker has built by now out of every later garbage collection; returns how many objects.

    Everything loaded at start (the SDK, SQLAlchemy, pydantic, apprise, the desk's modules: ~150,000 objects that
    live as long as the process) would otherwise be walked again by every full collection. Those come every few
    seconds while incidents are opened or rebuilt after eviction (each instance left behind is cyclic garbage only
    a full collection frees), and each stops every thread of the worker: ~0.6 s at 10,000 open with the default
    cache (docs/performance.md, seventh round). Collected first, so no garbage is kept for good; a frozen object
    that becomes cyclic garbage later is never freed, and what is built at start lives as long as the process (the
    notification channels read at start are replaced once, when the stored ones first differ: one small copy)."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


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
    frozen = settle_heap()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    log.info("worker %s polling task queue %s at %s (namespace %s)%s; %d objects loaded at start left out of garbage "
             "collection", client.identity, worker.task_queue, settings.resolved_temporal_address,
             settings.temporal_namespace, f"; SDK metrics on :{settings.worker_metrics_port}/metrics" if runtime else "",
             frozen)
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
