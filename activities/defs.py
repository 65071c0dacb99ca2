"""The activities the workflow calls, as signatures: each one's name, argument and result.

The workflow calls these by reference (`workflow.execute_activity(defs.deliver, ...)`) and the worker runs
the implementations in activities/notify.py and activities/records.py, registered under the same names
(tests/unit/test_activity_defs.py holds the two together). This module imports no SQL and no apprise, so
the workflow, and the API that imports it, need neither. A name never changes: recorded histories hold it.
"""

from __future__ import annotations

from temporalio import activity

from desk.messages import (
    Deliver,
    Delivered,
    HandoverRecord,
    MakeReport,
    Notify,
    NotifyOutcome,
    RecordBatch,
    RecordEvent,
    ReportMade,
    ReportSent,
    SendReport,
)

RUN_BY_THE_WORKER = "a signature only: the worker runs the implementation registered under this name"


@activity.defn(name="deliver")
async def deliver(d: Deliver) -> Delivered:
    """Post one message to each of its channels not yet delivered; report each channel's outcome."""
    raise NotImplementedError(RUN_BY_THE_WORKER)


@activity.defn(name="record_batch")
def record_batch(b: RecordBatch) -> None:
    """Write timeline events, notification attempts and the read model in one transaction, idempotently."""
    raise NotImplementedError(RUN_BY_THE_WORKER)


@activity.defn(name="record_handover")
def record_handover(r: HandoverRecord) -> None:
    """A handover's confirmation, or its escalation and each attempt to deliver it, on its row; idempotently."""
    raise NotImplementedError(RUN_BY_THE_WORKER)


@activity.defn(name="send_notification")
async def send_notification(n: Notify) -> NotifyOutcome:
    """The first version of `deliver`, for runs started before "durable-delivery"."""
    raise NotImplementedError(RUN_BY_THE_WORKER)


@activity.defn(name="record_event")
def record_event(r: RecordEvent) -> None:
    """One timeline event and the read model, for runs started before "durable-delivery"."""
    raise NotImplementedError(RUN_BY_THE_WORKER)


@activity.defn(name="make_report")
def make_report(m: MakeReport) -> ReportMade:
    """Write the period's report, keep the file in the blob store and its run's row; the same run again: that row."""
    raise NotImplementedError(RUN_BY_THE_WORKER)


@activity.defn(name="send_report")
async def send_report(s: SendReport) -> ReportSent:
    """Send a made report to its tags' channels that have not taken it (e-mail: the file attached; the others:
    a link to it), each channel's answer recorded on the run's row."""
    raise NotImplementedError(RUN_BY_THE_WORKER)
