"""HandoverWorkflow: one run per shift handover (交接班), from handing over to the incoming officer's confirmation.

It reads like the rule: wait until the incoming officer confirms or the confirmation is due (the policy's
handover.confirm_within after handing over); if it is due first, tell the supervisor (escalate_to), retrying
a channel that fails until it takes the message or the handover is confirmed; then wait for the
confirmation, which is recorded whenever it comes. Deterministic: no I/O, only ``workflow.now()``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities import defs as activities
    from desk import ids
    from desk import refusals as why
    from desk.messages import (
        CONFLICT,
        AttemptLog,
        ConfirmHandover,
        Deliver,
        Delivered,
        HandoverInput,
        HandoverRecord,
    )
    from desk.vocab import SHANGHAI, DeliveryStatus, NotificationKind

DELIVER_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(seconds=30),
                            maximum_attempts=3)
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
ESCALATION = "handover-unconfirmed"  # the message's rung key: one message per handover, whatever the retries


@workflow.defn
class HandoverWorkflow:
    @workflow.init
    def __init__(self, inp: HandoverInput) -> None:
        self.inp = inp
        self.confirmed_by = ""
        self.escalated = False

    @workflow.run
    async def run(self, inp: HandoverInput) -> str:
        due = inp.handed_over_at + timedelta(seconds=inp.confirm_within_seconds)
        wait = max(due - workflow.now(), timedelta(0))
        if not await self._confirmed_within(wait):
            await self._escalate(due)
        await workflow.wait_condition(lambda: bool(self.confirmed_by))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.confirmed_by

    async def _confirmed_within(self, wait: timedelta) -> bool:
        try:
            await workflow.wait_condition(lambda: bool(self.confirmed_by), timeout=wait)
        except TimeoutError:
            return False
        return True

    async def _escalate(self, due: datetime) -> None:
        """Tell the supervisor, once per channel: a channel that fails is tried again with backoff until it
        takes the message or the handover is confirmed."""
        self.escalated = True
        channels: list[str] | None = None  # every channel of the tags, the first time
        tries = 0
        escalated_at = workflow.now()
        while True:
            tries += 1
            delivered, error = await self._deliver(channels, tries, due)
            attempts = self._attempts(delivered, error, tries)
            await self._record(HandoverRecord(handover_id=self.inp.handover_id, escalated_at=escalated_at,
                                              attempts=attempts))
            failed = [a.channel_id for a in attempts if a.status == DeliveryStatus.failed]
            if not failed or self.confirmed_by:
                return
            channels = None if delivered is None else failed
            backoff = min(self.inp.retry_first_seconds * 2 ** (tries - 1), self.inp.retry_max_seconds)
            if await self._confirmed_within(timedelta(seconds=backoff)):
                return

    async def _deliver(self, channels: list[str] | None, attempt: int, due: datetime) -> tuple[Delivered | None, str]:
        inp = self.inp
        handed = inp.handed_over_at.astimezone(SHANGHAI).strftime("%m月%d日 %H:%M")
        message = Deliver(
            dedupe_key=ids.dedupe_key(workflow.info().workflow_id, ESCALATION), incident_id=0, human_id="",
            title=f"{inp.outgoing_name or inp.outgoing} → {inp.incoming_name or inp.incoming}", level="",
            party_name="", kind=NotificationKind.handover_unconfirmed, tags=list(inp.escalate_to), due_at=due,
            link=inp.link, detail=f"交班时间：{handed}（北京时间）", channels=channels, attempt=attempt)
        try:
            return await workflow.execute_activity(
                activities.deliver, message, start_to_close_timeout=timedelta(minutes=1), retry_policy=DELIVER_RETRY,
                summary=f"handover {inp.handover_id} unconfirmed"), ""
        except FailureError as err:
            cause = getattr(err, "cause", None) or err
            return None, str(cause.message if isinstance(cause, FailureError) else cause)

    def _attempts(self, delivered: Delivered | None, error: str, tries: int) -> list[AttemptLog]:
        """Each channel's answer as a row of the attempt log; a send that failed as a whole is one failed row."""
        dedupe = ids.dedupe_key(workflow.info().workflow_id, ESCALATION)
        now = workflow.now()
        tags = ",".join(self.inp.escalate_to)
        kind = NotificationKind.handover_unconfirmed
        if delivered is None:
            return [AttemptLog(attempt_key=ids.attempt_key(dedupe, "*", tries), dedupe_key=dedupe, kind=kind, tags=tags,
                               channel_id="*", channel="", service="", attempt=tries, status=DeliveryStatus.failed,
                               error=error[:1000] or "发送失败", at=now)]
        if delivered.matched == 0 and not delivered.results:
            return [AttemptLog(attempt_key=ids.attempt_key(dedupe, ids.NO_CHANNEL_ID, tries), dedupe_key=dedupe,
                               kind=kind, tags=tags, channel_id=ids.NO_CHANNEL_ID, channel="", service="", attempt=tries,
                               status=DeliveryStatus.no_channel, error=f"没有为标签 {tags} 配置通知渠道", at=now)]
        return [AttemptLog(attempt_key=ids.attempt_key(dedupe, r.channel_id, tries), dedupe_key=dedupe, kind=kind,
                           tags=tags, channel_id=r.channel_id, channel=r.channel, service=r.service, attempt=tries,
                           status=r.status, error=r.error, at=r.at or now)
                for r in delivered.results if r.status != DeliveryStatus.gone]

    async def _record(self, record: HandoverRecord) -> None:
        await workflow.execute_activity(activities.record_handover, record, start_to_close_timeout=timedelta(seconds=30),
                                        retry_policy=RECORD_RETRY, summary=f"handover {record.handover_id}")

    @workflow.update
    async def confirm(self, cmd: ConfirmHandover) -> str:
        """The incoming officer takes the shift over: recorded before the answer (late or not)."""
        self._validate_confirm(cmd)
        self.confirmed_by = cmd.actor
        at = workflow.now() if cmd.received_at is None else min(cmd.received_at, workflow.now())
        await self._record(HandoverRecord(handover_id=self.inp.handover_id, confirmed_by=cmd.actor, confirmed_at=at))
        return "escalated" if self.escalated else "on_time"

    @confirm.validator
    def _validate_confirm(self, cmd: ConfirmHandover) -> None:
        if self.confirmed_by:
            raise ApplicationError("该交接班已确认接班。", why.details(why.HANDOVER_CONFIRMED), type=CONFLICT,
                                   non_retryable=True)
        if cmd.actor != self.inp.incoming:
            name = self.inp.incoming_name or self.inp.incoming
            raise ApplicationError(f"该交接班交给 {name}，只有接班人本人可以确认接班。",
                                   why.details(why.HANDOVER_NOT_INCOMING, incoming=name), type=CONFLICT,
                                   non_retryable=True)
