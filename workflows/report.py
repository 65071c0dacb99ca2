"""ReportWorkflow: one run per firing of a report schedule (desk/schedules.py): the weekly summary or the
monthly 通报, made for the last whole week or month, then sent to its tags.

It reads like the job: work out the period from the run's own time; make the report (the file into the blob
store, the run's row); send it (e-mail with the file attached, chat bots a link to it behind the login), a
channel that failed tried again later, each answer on the row. Deterministic: no I/O, only ``workflow.now()``;
the schedule starts it with a workflow id of its own per firing, which keys the row and the file.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities import defs as activities
    from desk.messages import MakeReport, ReportInput, ReportSent, SendReport
    from desk.periods import previous_period

MAKE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=2),
                         maximum_attempts=10)
# A channel that failed is tried again 30 s, 1 min, 2 min … later: about two hours in all, then the row says so.
SEND_ATTEMPTS = 8
SEND_RETRY = RetryPolicy(initial_interval=timedelta(seconds=30), maximum_interval=timedelta(minutes=30),
                         maximum_attempts=SEND_ATTEMPTS)


@workflow.defn
class ReportWorkflow:
    @workflow.run
    async def run(self, inp: ReportInput) -> ReportSent:
        run_key = workflow.info().workflow_id
        covered = previous_period(inp.kind, workflow.now())
        made = await workflow.execute_activity(
            activities.make_report,
            MakeReport(run_key=run_key, kind=inp.kind, period=covered.code, period_name=covered.name,
                       start=covered.start.isoformat(), end=covered.end.isoformat(), tags=list(inp.tags), format=inp.format,
                       public_url=inp.public_url),
            start_to_close_timeout=timedelta(minutes=5), retry_policy=MAKE_RETRY, summary=f"{inp.kind} {covered.code}")
        return await workflow.execute_activity(
            activities.send_report,
            SendReport(run_id=made.run_id, run_key=run_key, tags=list(inp.tags), title=made.title,
                       summary=made.summary, link=made.link, max_attempts=SEND_ATTEMPTS),
            start_to_close_timeout=timedelta(minutes=2), retry_policy=SEND_RETRY, summary=f"send {covered.code}")
