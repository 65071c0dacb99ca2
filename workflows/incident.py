"""IncidentWorkflow: one durable run per incident, from opening to closing.

It reads like the policy: wait until the next rung of any open clock or a human action; send what is
due; on breach, escalate and repeat until the milestone is met or waived. Every change is written to
SQL by an activity before the human action returns. Deterministic: no I/O, only ``workflow.now()``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from desk import clocks as clk
    from desk.messages import (
        CLOSED,
        CONFLICT,
        INVALID,
        OPEN,
        AddNote,
        Acknowledge,
        ChangeLevel,
        Close,
        IncidentInput,
        IncidentState,
        Notify,
        NotifyOutcome,
        Reassign,
        RecordEvent,
        RecordRelease,
        Reopen,
        TimelineEntry,
        Waive,
    )
    from desk.policy import FOLLOW_UP, LEVELS

PARTY_ATTR = SearchAttributeKey.for_keyword("DeskParty")
LEVEL_ATTR = SearchAttributeKey.for_keyword("DeskLevel")

# Writing the record must not be lost: retry until the database is back.
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
# A channel that keeps failing is retried with backoff, then escalated to the supervisor.
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
)
CLOCK_SKEW = timedelta(minutes=2)  # a release "now" on a phone whose clock runs a little fast is fine
MAX_TEXT = 5000


def _reject(message: str, kind: str = CONFLICT) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


@workflow.defn
class IncidentWorkflow:
    @workflow.init
    def __init__(self, inp: IncidentInput) -> None:
        self.policy = inp.policy
        self.public_url = inp.public_url
        self.state: IncidentState = inp.state or IncidentState(facts=inp.facts)
        if inp.state is None:  # clocks exist before any human action can arrive
            facts = inp.facts
            planned_from = workflow.now()
            if workflow.patched("ladder-from-opened-at"):
                # Plan from when the incident was opened, not from when a worker first picked it up:
                # rungs that fell due while no worker ran are late, not skipped.
                planned_from = min(facts.opened_at, planned_from)
            self.state.clocks = clk.open_clocks(self.policy, facts.level, facts.detected_at, planned_from)
        # The API writes the "opened" event (seq 1) in the transaction that creates the row: the run
        # starts after it, without an activity of its own (an input flag, so old histories replay as they ran).
        self.opened_recorded = inp.state is None and inp.opened_recorded
        if self.opened_recorded:
            self.state.event_seq = 1
        self.changed = False  # set by human actions so the main loop re-plans its next wake-up
        self.lock = asyncio.Lock()  # one state change (and its SQL write) at a time

    # --- the clocks ---------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: IncidentInput) -> None:
        if inp.state is None and not self.opened_recorded:
            await self._record("opened", self.state.facts.reporter, {
                "policy": self.policy.name,
                "deadlines": {c.key: c.due_at.isoformat() for c in self.state.clocks},
            })
        while True:
            if self.state.status == CLOSED:
                if not await self._wait_for_reopen():
                    break
                continue
            await self._send_due_rungs()
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    IncidentInput(facts=self.state.facts, policy=self.policy, public_url=self.public_url,
                                  state=self.state))
            await self._sleep_until_next_rung()
        await workflow.wait_condition(workflow.all_handlers_finished)

    async def _sleep_until_next_rung(self) -> None:
        facts = self.state.facts
        now = workflow.now()
        wake = clk.next_rung_at(self.state.clocks, self.policy, facts.party_code, now,
                                beyond_horizon=workflow.patched("next-rung-beyond-horizon"))
        if wake is not None and wake <= now:
            return
        self.changed = False
        try:
            await workflow.wait_condition(
                lambda: self.changed, timeout=(wake - now) if wake else None, timeout_summary="next rung"
            )
        except asyncio.TimeoutError:
            pass

    async def _wait_for_reopen(self) -> bool:
        """A closed incident can be reopened for a while; after that the run ends."""
        closed_at = self.state.closed_at or workflow.now()
        remaining = closed_at + timedelta(seconds=self.policy.reopen_within_seconds) - workflow.now()
        if remaining <= timedelta(0):
            return False
        try:
            await workflow.wait_condition(lambda: self.state.status == OPEN, timeout=remaining)
            return True
        except asyncio.TimeoutError:
            return self.state.status == OPEN

    async def _send_due_rungs(self) -> None:
        facts = self.state.facts
        for rung in clk.due_rungs(self.state.clocks, self.policy, facts.party_code, workflow.now()):
            clock = self._clock(rung.milestone)
            if clock is None or not clock.open or rung.key in clock.sent_rungs:
                continue  # met or waived while an earlier rung was being sent
            outcome, error = await self._notify(rung.kind, list(rung.tags), rung.key, clock)
            async with self.lock:
                clock = self._clock(rung.milestone)
                if clock is None:
                    continue
                sent = clock.sent_rungs + [rung.key]
                state = clk.OVERDUE if rung.kind == "breach" and clock.open else clock.state
                self._put_clock(replace(clock, sent_rungs=sent, state=state))
                payload = {"milestone": rung.milestone, "rung": rung.key, "tags": list(rung.tags),
                           "due_at": clock.due_at.isoformat(), "scheduled_at": rung.at.isoformat()}
                if error:
                    payload["error"] = error
                elif outcome is not None:
                    payload.update(delivered=outcome.delivered, skipped=outcome.skipped, matched=outcome.matched)
                kind = {"reminder": "reminder_sent", "breach": "escalated", "repeat": "escalation_repeated"}[rung.kind]
                await self._record("notification_failed" if error else kind, "system", payload)
            if error:
                await self._alert_supervisor(rung.key, clock, error)

    async def _notify(self, kind: str, tags: list[str], rung_key: str, clock: clk.MilestoneClock | None,
                      detail: str = "") -> tuple[NotifyOutcome | None, str]:
        facts = self.state.facts
        message = Notify(
            dedupe_key=f"{workflow.info().workflow_id}/{rung_key}", incident_id=facts.incident_id,
            human_id=facts.human_id, title=facts.title, level=facts.level, party_name=facts.party_name,
            kind=kind, tags=tags, milestone=clock.key if clock else "", milestone_label=clock.label if clock else "",
            due_at=clock.due_at if clock else None, drill=facts.drill,
            link=f"{self.public_url}/incidents/{facts.human_id}", detail=detail,
        )
        try:
            outcome = await workflow.execute_activity(
                "send_notification", message, result_type=NotifyOutcome,
                start_to_close_timeout=timedelta(minutes=2), retry_policy=NOTIFY_RETRY,
                summary=f"{kind} {rung_key}",
            )
            return outcome, ""
        except ActivityError as err:
            cause = err.cause
            return None, str(cause.message if isinstance(cause, ApplicationError) else cause or err)

    async def _alert_supervisor(self, rung_key: str, clock: clk.MilestoneClock, error: str) -> None:
        """A channel that keeps failing is itself escalated to the supervisor channel."""
        outcome, second_error = await self._notify(
            "channel_failure", ["supervisor"], f"{rung_key}/channel-failure", clock, detail=error)
        async with self.lock:
            payload = {"rung": rung_key, "error": error}
            if second_error:
                payload["alert_error"] = second_error
            await self._record("channel_failure_escalated", "system", payload)

    # --- human actions --------------------------------------------------------------------------------

    @workflow.update
    async def acknowledge(self, cmd: Acknowledge) -> IncidentState:
        async with self.lock:
            clock = self._clock("acknowledge")
            now = workflow.now()
            if clock is not None and clock.open:
                self._put_clock(clk.meet(clock, now))
            await self._record("acknowledged", cmd.actor, {"note": cmd.note, "on_time": self._on_time("acknowledge")})
            return self._changed()

    @acknowledge.validator
    def _validate_acknowledge(self, cmd: Acknowledge) -> None:
        self._require_open()
        clock = self._clock("acknowledge")
        if clock is not None and clock.state in clk.DONE_STATES:
            raise _reject("该事件已签收，无需重复签收。")
        self._check_text(cmd.note, "note")

    @workflow.update
    async def record_release(self, cmd: RecordRelease) -> IncidentState:
        async with self.lock:
            at = cmd.released_at or workflow.now()
            met = []
            keys = {"release": ["first_release"], "press_conference": ["press_conference", "first_release"],
                    "update": []}[cmd.kind]
            for key in ["acknowledge", *keys]:  # releasing information also acknowledges the incident
                clock = self._clock(key)
                if clock is not None and clock.open:
                    self._put_clock(clk.meet(clock, at))
                    met.append(key)
            follow_up = self._clock(FOLLOW_UP)
            if follow_up is not None and follow_up.open:
                self._put_clock(clk.meet(follow_up, at))
                met.append(FOLLOW_UP)
            self._roll_follow_up(at)
            await self._record(cmd.kind if cmd.kind != "release" else "released", cmd.actor, {
                "released_at": at.isoformat(), "channel": cmd.channel, "url": cmd.url, "summary": cmd.summary,
                "met": met, "on_time": {k: self._on_time(k) for k in met},
            })
            return self._changed()

    @record_release.validator
    def _validate_release(self, cmd: RecordRelease) -> None:
        self._require_open()
        if cmd.kind not in ("release", "press_conference", "update"):
            raise _reject(f"未知的发布类型：{cmd.kind}", INVALID)
        at = cmd.released_at
        if at is not None:
            if at.tzinfo is None:
                raise _reject("发布时间必须带时区。", INVALID)
            if at < self.state.facts.detected_at:
                raise _reject("发布时间早于舆情发现时间，请核对后重新填写。", INVALID)
            if at > workflow.now() + CLOCK_SKEW:
                raise _reject("发布时间不能晚于当前时间。", INVALID)
        if cmd.kind == "update" and not self._done("first_release"):
            raise _reject("尚未记录首次权威信息发布，请先记录“发布权威信息”。")
        for text, name in ((cmd.summary, "summary"), (cmd.channel, "channel"), (cmd.url, "url")):
            self._check_text(text, name)

    @workflow.update
    async def add_note(self, cmd: AddNote) -> IncidentState:
        async with self.lock:
            await self._record("note", cmd.actor, {"text": cmd.text})
            return self.state

    @add_note.validator
    def _validate_note(self, cmd: AddNote) -> None:
        if not cmd.text.strip():
            raise _reject("备注内容不能为空。", INVALID)
        self._check_text(cmd.text, "text")

    @workflow.update
    async def reassign(self, cmd: Reassign) -> IncidentState:
        async with self.lock:
            facts = self.state.facts
            before = (facts.party_code, facts.party_name)
            self.state.facts = replace(facts, party_code=cmd.party_code, party_name=cmd.party_name)
            workflow.upsert_search_attributes([PARTY_ATTR.value_set(cmd.party_code)])
            await self._record("reassigned", cmd.actor, {
                "from": {"code": before[0], "name": before[1]}, "to": {"code": cmd.party_code, "name": cmd.party_name},
                "reason": cmd.reason,
            })
            return self._changed()

    @reassign.validator
    def _validate_reassign(self, cmd: Reassign) -> None:
        self._require_open()
        self._require_reason(cmd.reason)
        if cmd.party_code == self.state.facts.party_code:
            raise _reject("该事件已由此单位负责。")

    @workflow.update
    async def change_level(self, cmd: ChangeLevel) -> IncidentState:
        async with self.lock:
            facts = self.state.facts
            before = facts.level
            self.state.clocks, added, dropped = clk.change_level(
                self.state.clocks, self.policy, cmd.level, facts.detected_at, workflow.now())
            self.state.facts = replace(facts, level=cmd.level)
            workflow.upsert_search_attributes([LEVEL_ATTR.value_set(cmd.level)])
            await self._record("level_changed", cmd.actor, {
                "from": before, "to": cmd.level, "reason": cmd.reason, "added": added, "dropped": dropped,
                "deadlines": {c.key: c.due_at.isoformat() for c in self.state.clocks if c.open},
            })
            return self._changed()

    @change_level.validator
    def _validate_level(self, cmd: ChangeLevel) -> None:
        self._require_open()
        self._require_reason(cmd.reason)
        if cmd.level not in LEVELS:
            raise _reject(f"未知的事件级别：{cmd.level}", INVALID)
        if cmd.level == self.state.facts.level:
            raise _reject("事件已是该级别。")

    @workflow.update
    async def waive(self, cmd: Waive) -> IncidentState:
        async with self.lock:
            clock = self._clock(cmd.milestone)
            if clock is None or not clock.open:
                raise _reject("该时限已完成或已豁免。")
            self._put_clock(replace(clock, state=clk.WAIVED, waived_reason=cmd.reason))
            await self._record("waived", cmd.actor, {"milestone": cmd.milestone, "reason": cmd.reason})
            return self._changed()

    @waive.validator
    def _validate_waive(self, cmd: Waive) -> None:
        self._require_open()
        self._require_reason(cmd.reason)
        clock = self._clock(cmd.milestone)
        if clock is None:
            raise _reject(f"该事件没有“{cmd.milestone}”这一时限。", INVALID)
        if not clock.open:
            raise _reject(f"“{clock.label}”已完成或已豁免。")

    @workflow.update
    async def close(self, cmd: Close) -> IncidentState:
        async with self.lock:
            now = workflow.now()
            # A follow-up clock not yet due simply stops; the required milestones are all done.
            self.state.clocks = [c for c in self.state.clocks if not (c.key == FOLLOW_UP and c.open)]
            self.state.status, self.state.closed_at = CLOSED, now
            await self._record("closed", cmd.actor, {"reason": cmd.reason})
            return self._changed()

    @close.validator
    def _validate_close(self, cmd: Close) -> None:
        self._require_open()
        self._check_text(cmd.reason, "reason")
        blocking = clk.blocking_close(self.state.clocks, workflow.now())
        if blocking:
            labels = "、".join(c.label for c in blocking)
            raise _reject(f"不能结案：{labels}尚未完成，请先完成或经批准豁免（须写明理由）。")

    @workflow.update
    async def reopen(self, cmd: Reopen) -> IncidentState:
        async with self.lock:
            now = workflow.now()
            self.state.status, self.state.closed_at = OPEN, None
            if self._done("first_release"):
                self._roll_follow_up(now)
            await self._record("reopened", cmd.actor, {"reason": cmd.reason})
            return self._changed()

    @reopen.validator
    def _validate_reopen(self, cmd: Reopen) -> None:
        if self.state.status != CLOSED:
            raise _reject("事件未结案，无需重新打开。")
        self._require_reason(cmd.reason)

    @workflow.query(name="state")
    def current_state(self) -> IncidentState:
        return self.state

    # --- helpers -----------------------------------------------------------------------------------------

    def _clock(self, key: str) -> clk.MilestoneClock | None:
        return next((c for c in self.state.clocks if c.key == key), None)

    def _put_clock(self, clock: clk.MilestoneClock) -> None:
        self.state.clocks = [clock if c.key == clock.key else c for c in self.state.clocks]

    def _done(self, key: str) -> bool:
        clock = self._clock(key)
        return clock is not None and clock.state in (clk.MET, clk.MET_LATE)

    def _on_time(self, key: str) -> bool | None:
        clock = self._clock(key)
        return None if clock is None or clock.state not in (clk.MET, clk.MET_LATE) else clock.state == clk.MET

    def _roll_follow_up(self, after: datetime) -> None:
        """After each release, the next follow-up release (动态发布) falls due one interval later."""
        if not self._done("first_release"):
            return
        self.state.follow_up_generation += 1
        fresh = clk.follow_up_clock(self.policy, after, workflow.now(), self.state.follow_up_generation)
        if fresh is None:
            return
        self.state.clocks = [c for c in self.state.clocks if c.key != FOLLOW_UP] + [fresh]

    def _changed(self) -> IncidentState:
        self.changed = True
        return self.state

    def _require_open(self) -> None:
        if self.state.status != OPEN:
            raise _reject("事件已结案；如需继续处理，请先重新打开。")

    @staticmethod
    def _require_reason(reason: str) -> None:
        if not reason or not reason.strip():
            raise _reject("请填写理由。", INVALID)
        if len(reason) > MAX_TEXT:
            raise _reject(f"理由不能超过 {MAX_TEXT} 字。", INVALID)

    @staticmethod
    def _check_text(text: str, name: str) -> None:
        if text and len(text) > MAX_TEXT:
            raise _reject(f"{name} 不能超过 {MAX_TEXT} 字。", INVALID)

    async def _record(self, kind: str, actor: str, payload: dict) -> None:
        """Append a timeline event and refresh the read model; awaited, so SQL is current on return."""
        if kind != "opened":  # an action that raced the run's start still lands after "opened"
            await workflow.wait_condition(lambda: self.state.event_seq >= 1)
        self.state.event_seq += 1
        seq = self.state.event_seq
        entry = TimelineEntry(
            event_key=f"{workflow.info().workflow_id}/{seq}", seq=seq, kind=kind, actor=actor,
            at=workflow.now(), payload=payload,
        )
        # A local activity: the SQL write runs inside the workflow task that made the change, so an action
        # or a rung costs one workflow task less and no round trip through the task queue. Idempotent by
        # event key, so a worker dying before the task completes just writes it again.
        execute = workflow.execute_local_activity if workflow.patched("record-event-local") \
            else workflow.execute_activity
        await execute("record_event", RecordEvent(state=self.state, entry=entry, policy_name=self.policy.name),
                      start_to_close_timeout=timedelta(seconds=30), retry_policy=RECORD_RETRY, summary=kind)
