"""The incident workflow's first branch, kept so that runs started before "durable-delivery" finish as
they began (a workflow must replay the commands it once made).

Here a rung is sent with a few retries and then marked sent whatever happened, and every timeline event
is written inline, under the lock, before anything else moves. Runs started since "durable-delivery" use
the outbox and owed channels in ``workflows/incident.py``. Remove this module with the patch (see
``PATCHES`` there): once `opinion-desk doctor` counts no run older than "durable-delivery".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import defs as activities
    from desk import clocks as clk
    from desk import ids
    from desk.messages import IncidentState, Notify, NotifyOutcome, RecordEvent, TimelineEntry
    from desk.policy import Policy
    from desk.vocab import RUNG_EVENT, SYSTEM, EventKind, NotificationKind

# Writing the record must not be lost: retry until the database is back.
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
)


class LegacyBranch:
    """Mixed into IncidentWorkflow; uses its state, lock and helpers."""

    # IncidentWorkflow's, declared here for the type checker (this class is only ever its mixin)
    state: IncidentState
    policy: Policy
    public_url: str
    lock: asyncio.Lock
    _clock: Callable[[str], clk.MilestoneClock | None]
    _put_clock: Callable[[clk.MilestoneClock], None]
    _patched: Callable[[str], bool]

    async def _send_due_rungs_v3(self) -> None:
        facts = self.state.facts
        for rung in clk.due_rungs(self.state.clocks, self.policy, facts.party_code, workflow.now()):
            clock = self._clock(rung.milestone)
            if clock is None or not clock.open or rung.key in clock.sent_rungs:
                continue  # met or waived while an earlier rung was being sent
            outcome, error = await self._notify_v3(rung.kind, list(rung.tags), rung.key, clock)
            async with self.lock:
                clock = self._clock(rung.milestone)
                if clock is None:
                    continue
                sent = clock.sent_rungs + [rung.key]
                state = clk.OVERDUE if rung.kind == NotificationKind.breach and clock.open else clock.state
                self._put_clock(replace(clock, sent_rungs=sent, state=state))
                payload: dict[str, object] = {"milestone": rung.milestone, "rung": rung.key, "tags": list(rung.tags),
                           "due_at": clock.due_at.isoformat(), "scheduled_at": rung.at.isoformat()}
                if error:
                    payload["error"] = error
                elif outcome is not None:
                    payload.update(delivered=outcome.delivered, skipped=outcome.skipped, matched=outcome.matched)
                kind = EventKind.notification_failed if error else RUNG_EVENT[NotificationKind(rung.kind)]
                await self._record_v3(kind, SYSTEM, payload)
            if error:
                await self._alert_supervisor_v3(rung.key, clock, error)

    async def _notify_v3(self, kind: str, tags: list[str], rung_key: str, clock: clk.MilestoneClock | None,
                         detail: str = "") -> tuple[NotifyOutcome | None, str]:
        facts = self.state.facts
        message = Notify(
            dedupe_key=ids.dedupe_key(workflow.info().workflow_id, rung_key), incident_id=facts.incident_id,
            human_id=facts.human_id, title=facts.title, level=facts.level, party_name=facts.party_name,
            kind=kind, tags=tags, milestone=clock.key if clock else "", milestone_label=clock.label if clock else "",
            due_at=clock.due_at if clock else None, drill=facts.drill,
            link=f"{self.public_url}/incidents/{facts.human_id}", detail=detail,
        )
        try:
            outcome = await workflow.execute_activity(
                activities.send_notification, message,
                start_to_close_timeout=timedelta(minutes=2), retry_policy=NOTIFY_RETRY,
                summary=f"{kind} {rung_key}",
            )
            return outcome, ""
        except ActivityError as err:
            cause = err.cause
            return None, str(cause.message if isinstance(cause, ApplicationError) else cause or err)

    async def _alert_supervisor_v3(self, rung_key: str, clock: clk.MilestoneClock, error: str) -> None:
        _outcome, second_error = await self._notify_v3(
            NotificationKind.channel_failure, ["supervisor"], ids.channel_failure_key(rung_key), clock, detail=error)
        async with self.lock:
            payload = {"rung": rung_key, "error": error}
            if second_error:
                payload["alert_error"] = second_error
            await self._record_v3(EventKind.channel_failure_escalated, SYSTEM, payload)

    async def _record_v3(self, kind: str, actor: str, payload: dict) -> int:
        """Append a timeline event and refresh the read model; awaited, so SQL is current on return."""
        if kind != EventKind.opened:  # an action that raced the run's start still lands after "opened"
            await workflow.wait_condition(lambda: self.state.event_seq >= 1)
        self.state.event_seq += 1
        seq = self.state.event_seq
        entry = TimelineEntry(
            event_key=ids.seq_event_key(workflow.info().workflow_id, seq), seq=seq, kind=kind, actor=actor,
            at=workflow.now(), payload=payload,
        )
        record = RecordEvent(state=self.state, entry=entry, policy_name=self.policy.name)
        if self._patched("record-event-local"):
            await workflow.execute_local_activity(activities.record_event, record, start_to_close_timeout=timedelta(seconds=30),
                                                  retry_policy=RECORD_RETRY, summary=kind)
        else:
            await workflow.execute_activity(activities.record_event, record, start_to_close_timeout=timedelta(seconds=30),
                                            retry_policy=RECORD_RETRY, summary=kind)
        return seq
