"""IncidentWorkflow: one durable run per incident, from opening to closing.

It reads like the policy: wait until the next rung of any open clock, an owed message's next try, or a
human action; send what is due; on breach, escalate and repeat until the milestone is met or waived.
Deterministic: no I/O, only ``workflow.now()``.

The promise (SPEC §5) and how this run keeps it:
- A channel that cannot take a message is *owed* it (``state.owed``): retried with capped backoff until
  it takes it, or the milestone is met or waived, or the incident closes (recorded as no longer due). The
  supervisor is told once it has failed for a while, in addition. Channels that took it are never resent.
- Sending needs no SQL; the timeline and the notification log go through an *outbox* (``state.outbox``)
  written in order by a bounded local attempt, then a retried activity while the database is away. The
  clocks, the rungs and the human actions go on meanwhile; the timeline catches up in the order things
  happened.
- Event keys name the event (the update's id; the rung and what happened to it), so a task run twice
  writes the same rows, never a second copy and never over another event.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError

from workflows.legacy import LegacyBranch

with workflow.unsafe.imports_passed_through():
    from activities import defs as activities
    from desk import clocks as clk
    from desk import ids
    from desk import refusals as why
    from desk.ids import LEVEL_ATTR, PARTY_ATTR
    from desk.messages import (
        CONFLICT,
        INVALID,
        Acknowledge,
        AddAttachments,
        AddNote,
        AddSupport,
        AssignTask,
        AttemptLog,
        ChangeLevel,
        Close,
        CompleteTask,
        Deliver,
        Delivered,
        IncidentInput,
        IncidentState,
        LinkRelated,
        MergedFrom,
        MergeInto,
        Notice,
        Owed,
        Reassign,
        RecordBatch,
        RecordRelease,
        Reopen,
        SupportingParty,
        Task,
        TimelineEntry,
        Urge,
        Waive,
        WithdrawAttachment,
    )
    from desk.policy import FOLLOW_UP, LEVELS
    from desk.vocab import (
        RESCHEDULED,
        RUNG_EVENT,
        SHANGHAI,
        SYSTEM,
        DeliveryStatus,
        EventKind,
        IncidentStatus,
        NotificationKind,
    )

OPEN, CLOSED = IncidentStatus.open, IncidentStatus.closed

# Every `workflow.patched` id, when it came, and when its old branch can go. A patch's old branch becomes
# `workflow.deprecate_patch(id)` once `opinion-desk doctor` counts no running incident older than it (runs
# older than a patch keep its old branch for life; a continued run is new), and is deleted one release
# after that, with its recorded histories moved out of tests/histories.
PATCHES = {
    "ladder-from-opened-at": "2026-11-28: rungs due before a worker picked the incident up are sent late",
    "next-rung-beyond-horizon": "2026-11-28: the next wake looks past repeats already sent",
    "record-event-local": "2026-11-29: timeline written by a local activity",
    "durable-delivery": "2026-11-30: owed channels, outbox, event keys that name the event, action times "
                        "from the API; the old branch is workflows/legacy.py",
    "assignment-notice": "2026-11-30: 【新交办】 to the party at opening and on reassignment (policy on_assign)",
    "short-runs": "2026-11-30: a run continues as new after SHORT_RUN events, not HISTORY_LIMIT (cheap replays)",
    "one-marker": "2026-11-30: a new run records this one marker for every patch above, not one each (each "
                  "marker costs the server two history events); its old branch is the per-patch checks",
    "local-first-try": "2026-12-01: a new incident's 【新交办】 is first tried as a local activity in its first "
                       "task (an activity only when that try cannot finish); a new run records this one marker "
                       "for every patch above",
}
DURABLE = "durable-delivery"
ASSIGNMENT_NOTICE = "assignment-notice"
SHORT_RUNS = "short-runs"
# Checked first in every run: a run that takes it has taken the patches in FOLDED without a marker each. The
# runs that recorded those one by one replay without it and ask each in turn, as they ran. A patch that comes
# after it is asked for itself (a run with the one marker may predate it); a later fold is a new marker.
ONE_MARKER = "one-marker"
FOLDED = frozenset({"ladder-from-opened-at", "next-rung-beyond-horizon", "record-event-local", DURABLE,
                    ASSIGNMENT_NOTICE, SHORT_RUNS})
# The next fold: checked before ONE_MARKER, it stands for every patch before it (ONE_MARKER included), so a new
# run still records one marker. Runs with the one marker, or with a marker each, replay without it.
LOCAL_FIRST = "local-first-try"
FOLDED_LOCAL_FIRST = FOLDED | {ONE_MARKER}
# No marker at all: the code that starts a run (the API, the doctor) or continues it says in its input which
# patches it had, as a level. A run at level 1 takes every patch through LOCAL_FIRST without asking, so it records
# no marker and the SDK no TemporalChangeVersion upsert: two history events and a visibility write fewer for every
# run (a new incident's, and every run continued as new). The input is in the history, so a replay takes the same
# branches. A patch added later is asked for itself, as after a fold; the next fold is a new level. Runs whose
# input has no level (0: started before it) ask as they always did. The ask while replaying in __init__ (a marker
# an older worker recorded in a run at the level) goes with LOCAL_FIRST, when `opinion-desk doctor` counts no
# running incident older than it.
PATCH_LEVEL = 1
AT_LEVEL: dict[int, frozenset[str]] = {1: FOLDED_LOCAL_FIRST | {LOCAL_FIRST}}

# A send is one try of every channel; a channel that fails is owed (retried by this workflow's own clock,
# with the policy's backoff), so the activity itself only retries when the worker could not run it.
DELIVER_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(seconds=30),
                            maximum_attempts=3)
# A new incident's 【新交办】 first tried as a local activity (since "local-first-try"): once, bounded; then the activity.
LOCAL_FIRST_TIMEOUT = timedelta(seconds=30)
LOCAL_FIRST_RETRY = RetryPolicy(maximum_attempts=1)
# The record: first a bounded local attempt inside the task that made the change (fast when the
# database is up), then an activity retried until the database is back.
RECORD_LOCAL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=2)
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
CLOCK_SKEW = clk.CLOCK_SKEW  # a release "now" on a phone whose clock runs a little fast is fine
MAX_TEXT = 5000
HISTORY_LIMIT = 500  # events per run before continuing as new, for runs from before "short-runs"
# Events per run before continuing as new, since "short-runs". An incident no longer cached is rebuilt by replaying
# its current run, about 0.3 ms of worker CPU per event: 100 events (a full life is about 135, a repeat about 12)
# keep a six-month-old incident's wake-up under 50 ms (`python -m bench longopen`). Changing it changes when live
# runs continue as new: behind a patch, like any other change to the commands.
SHORT_RUN = 100
DELIVERED_STATES = (DeliveryStatus.delivered, DeliveryStatus.accepted_unconfirmed, DeliveryStatus.already)
ALL_CHANNELS = "*"  # owed to every channel of the tags that has not taken it (the send itself failed)
# RecordRelease.kind -> the event it writes
RELEASE_EVENT = {"release": EventKind.released, "press_conference": EventKind.press_conference,
                 "update": EventKind.update}


def _reject(message: str, code: str, error_type: str = CONFLICT, **params: object) -> ApplicationError:
    """A refusal: the Chinese sentence, and its code (desk.refusals) for the pages to say in their language."""
    return ApplicationError(message, why.details(code, **params), type=error_type, non_retryable=True)


@workflow.defn
class IncidentWorkflow(LegacyBranch):
    @workflow.init
    def __init__(self, inp: IncidentInput) -> None:
        self.taken: dict[str, bool] = {}
        self.at_level: frozenset[str] = AT_LEVEL.get(min(inp.patch_level, PATCH_LEVEL), frozenset())
        if self.at_level and workflow.unsafe.is_replaying():
            # A worker from before the level may have run this run's first task (a rolling upgrade: the new API
            # started it, an old worker took it) and recorded the fold's marker. Asked while replaying, the SDK
            # matches that marker if it is there and records nothing if not; a run's first execution never asks.
            workflow.patched(LOCAL_FIRST)
        self.local_first = self.one_marker = False
        self.local_first = self._patched(LOCAL_FIRST)
        self.one_marker = self._patched(ONE_MARKER)
        self.policy = inp.policy
        self.public_url = inp.public_url
        self.state: IncidentState = inp.state or IncidentState(facts=inp.facts)
        if inp.state is None:  # clocks exist before any human action can arrive
            facts = inp.facts
            planned_from = workflow.now()
            if self._patched("ladder-from-opened-at"):
                # Plan from when the incident was opened, not from when a worker first picked it up:
                # rungs that fell due while no worker ran are late, not skipped.
                planned_from = min(facts.opened_at, planned_from)
            self.state.clocks = clk.open_clocks(self.policy, facts.level, facts.detected_at, planned_from)
        # The API writes the "opened" event (seq 1) in the transaction that creates the row: the run
        # starts after it, without an activity of its own (an input flag, so old histories replay as they ran).
        self.opened_recorded = inp.state is None and inp.opened_recorded
        if self.opened_recorded:
            self.state.event_seq = self.state.written_seq = 1
        # One branch for the run's whole life (the answer is remembered), so a run started before the
        # patch finishes on the old branch and every new or continued run takes this one.
        self.durable = self._patched(DURABLE)
        # 【新交办】: a run from before the patch (or on the old branch) never sends one; nor does a policy
        # without on_assign (every policy snapshot taken before it existed).
        self.announce = self.durable and self._patched(ASSIGNMENT_NOTICE)
        self.run_limit = SHORT_RUN if self.durable and self._patched(SHORT_RUNS) else HISTORY_LIMIT
        if self.announce and inp.state is None:
            self._assign(inp.facts.party_code)
        if self.durable and inp.state is None:
            for named in inp.supporting:  # named at opening: their clocks run from detection, like the lead's
                self._add_supporting(named, inp.facts.detected_at)
        self.changed = False  # set by human actions so the main loop re-plans its next wake-up
        self.lock = asyncio.Lock()  # one state change at a time
        self.record_degraded = False  # the local record attempt failed: the database is away

    # --- the clocks ---------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: IncidentInput) -> None:
        if not self.durable:
            return await self._run_v3(inp)
        if inp.state is None and not self.opened_recorded:
            self._append(EventKind.opened, self.state.facts.reporter, {
                "policy": self.policy.name,
                "deadlines": {c.key: c.due_at.isoformat() for c in self.state.clocks},
            }, key=ids.opened_event_key(self._workflow_id()))
        self.recorder = asyncio.create_task(self._write_outbox())
        opening = inp.state is None  # a new incident's first pass: its 【新交办】 goes in this very task
        while True:
            if self.state.status == CLOSED:
                if not await self._wait_for_reopen():
                    break
                continue
            await self._send_notices(local=opening)
            opening = False
            await self._send_due_rungs()
            await self._retry_owed()
            info = workflow.info()
            if info.is_continue_as_new_suggested() or info.get_current_history_length() > self.run_limit:
                await workflow.wait_condition(workflow.all_handlers_finished)
                # The outbox goes along: whatever the last write did not take, the next run writes.
                workflow.continue_as_new(IncidentInput(facts=self.state.facts, policy=self.policy,
                                                       public_url=self.public_url, state=self.state,
                                                       patch_level=PATCH_LEVEL))
            await self._sleep_until_next_wake()
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self.state.outbox
                                      and not self.state.attempts or self.recorder.done())
        self._check_recorder()
        self.recorder.cancel()

    async def _run_v3(self, inp: IncidentInput) -> None:
        if inp.state is None and not self.opened_recorded:
            await self._record_v3(EventKind.opened, self.state.facts.reporter, {
                "policy": self.policy.name,
                "deadlines": {c.key: c.due_at.isoformat() for c in self.state.clocks},
            })
        while True:
            if self.state.status == CLOSED:
                if not await self._wait_for_reopen():
                    break
                continue
            await self._send_due_rungs_v3()
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    IncidentInput(facts=self.state.facts, policy=self.policy, public_url=self.public_url,
                                  state=self.state))
            await self._sleep_until_next_wake()
        await workflow.wait_condition(workflow.all_handlers_finished)

    async def _sleep_until_next_wake(self) -> None:
        facts = self.state.facts
        now = workflow.now()
        wake = clk.next_rung_at(self.state.clocks, self.policy, facts.party_code, now,
                                beyond_horizon=self._patched("next-rung-beyond-horizon"))
        for owed in self.state.owed:
            for at in (owed.next_try_at, self._alert_at(owed)):
                if at is not None and (wake is None or at < wake):
                    wake = at
        if wake is not None and wake <= now:
            return
        self.changed = False
        try:
            await workflow.wait_condition(
                lambda: self.changed or self._recorder_stopped(), timeout=(wake - now) if wake else None,
                timeout_summary="next rung",
            )
        except TimeoutError:
            pass
        self._check_recorder()

    def _recorder_stopped(self) -> bool:
        return self.durable and self.recorder.done()

    def _check_recorder(self) -> None:
        """The outbox writer never ends on its own; if a bug ends it, fail the workflow task (retried, and
        shown in the Temporal UI) rather than go on with a timeline that no longer gets written."""
        if self._recorder_stopped():
            self.recorder.result()
            raise RuntimeError("the timeline writer stopped")

    async def _wait_for_reopen(self) -> bool:
        """A closed incident can be reopened for a while; after that the run ends."""
        closed_at = self.state.closed_at or workflow.now()
        remaining = closed_at + timedelta(seconds=self.policy.reopen_within_seconds) - workflow.now()
        if remaining <= timedelta(0):
            return False
        try:
            await workflow.wait_condition(lambda: self.state.status == OPEN, timeout=remaining)
            return True
        except TimeoutError:
            return self.state.status == OPEN

    async def _send_due_rungs(self) -> None:
        facts = self.state.facts
        for rung in clk.due_rungs(self.state.clocks, self.policy, facts.party_code, workflow.now()):
            clock = self._clock(rung.milestone)
            if clock is None or not clock.open or rung.key in clock.sent_rungs:
                continue  # met or waived while an earlier rung was being sent
            delivered, error = await self._deliver(rung.kind, list(rung.tags), rung.key, clock, None, 1)
            async with self.lock:
                clock = self._clock(rung.milestone)
                if clock is None:
                    continue
                if rung.kind == NotificationKind.repeat:  # repeats go out in order: one number says which were sent
                    sent = replace(clock, repeats_sent=max(clock.repeats_sent, ids.repeat_number(rung.key)))
                else:
                    sent = replace(clock, sent_rungs=clock.sent_rungs + [rung.key])
                if rung.kind == NotificationKind.breach and clock.open:
                    sent = replace(sent, state=clk.OVERDUE)
                self._put_clock(sent)
                payload = {"milestone": rung.milestone, "rung": rung.key, "tags": list(rung.tags),
                           "due_at": clock.due_at.isoformat(), "scheduled_at": rung.at.isoformat()}
                payload.update(self._settle(rung.key, rung.milestone, rung.kind, list(rung.tags), delivered, error,
                                            tries=1, owed=None))
                self._append(RUNG_EVENT[NotificationKind(rung.kind)], SYSTEM, payload,
                             key=ids.rung_event_key(self._workflow_id(), rung.key))

    def _assign(self, party_code: str) -> None:
        """The incident is given to this party (opened, or reassigned): a 【新交办】 message is due to it."""
        self.state.assignments_made += 1
        if self.policy.escalation.on_assign:
            key = ids.assignment_key(party_code, self.state.assignments_made)
            self.state.notices_due.append(Notice(key=key, kind=NotificationKind.assigned))

    def _notice_tags(self, notice: Notice) -> list[str]:
        esc, party = self.policy.escalation, self._party_of(notice.key, None)[0]
        if notice.kind == NotificationKind.assigned:
            return list(clk.resolve_tags(esc.on_assign, party))
        # 督办 goes where a missed deadline's escalation goes, but to the party's side: the supervisor writes it
        return [t for t in clk.resolve_tags(esc.on_breach, party) if t != "supervisor"] or [party]

    async def _send_notices(self, local: bool = False) -> None:
        """【新交办】 and 【督办】: messages due at once, sent in the order they were made, each recorded. ``local``:
        the first try runs in this workflow task (a new incident's first pass, see `_deliver`)."""
        while self.state.notices_due:
            notice = self.state.notices_due[0]
            tags = self._notice_tags(notice)
            detail = notice.detail
            if notice.kind == NotificationKind.assigned and not detail:
                open_clocks = sorted((c for c in clk.lead_clocks(self.state.clocks) if c.open), key=lambda c: c.due_at)
                detail = "；".join(f"{c.label} {c.due_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" for c in open_clocks)
            delivered, error = await self._deliver(notice.kind, tags, notice.key, None, None, 1, detail=detail,
                                                   local=local)
            async with self.lock:
                self.state.notices_due.remove(notice)
                code, name = self._party_of(notice.key, None)
                payload: dict = {"rung": notice.key, "party": {"code": code, "name": name}, "tags": tags}
                payload.update(self._settle(notice.key, "", notice.kind, tags, delivered, error, tries=1,
                                            owed=None, detail=detail))
                if notice.kind == NotificationKind.assigned:
                    self._append(EventKind.assignment_notified, SYSTEM, payload,
                                 key=ids.rung_event_key(self._workflow_id(), notice.key))
                else:  # the urge's own event (the person's action) is in already; this says who it reached
                    self._append(EventKind.urge_sent, SYSTEM, payload,
                                 key=ids.rung_event_key(self._workflow_id(), notice.key))

    async def _retry_owed(self) -> None:
        """Try again what channels are owed, tell the supervisor about channels failing for a while."""
        self._drop_owed_not_due()
        for owed in list(self.state.owed):
            now = workflow.now()
            alert_at = self._alert_at(owed)
            if alert_at is not None and alert_at <= now:
                await self._alert_supervisor(owed)
            if owed not in self.state.owed or owed.next_try_at > now:
                continue
            channels = None if ALL_CHANNELS in owed.channels else list(owed.channels)
            clock = self._clock(owed.milestone)
            delivered, error = await self._deliver(owed.kind, owed.tags, owed.rung_key, clock, channels,
                                                   owed.tries + 1, detail=owed.detail)
            async with self.lock:
                if owed not in self.state.owed:
                    continue  # no longer due (met, waived, closed) while it was being sent
                payload = self._settle(owed.rung_key, owed.milestone, owed.kind, owed.tags, delivered, error,
                                       tries=owed.tries + 1, owed=owed)
                if payload.get("delivered_now"):
                    self._append(EventKind.delivery_recovered, SYSTEM, {
                        "rung": owed.rung_key, "milestone": owed.milestone, "tags": owed.tags,
                        "tries": owed.tries + 1, **payload,
                    }, key=ids.recovered_event_key(self._workflow_id(), owed.rung_key, owed.tries + 1))

    def _settle(self, rung_key: str, milestone: str, kind: str, tags: list[str], delivered: Delivered | None,
                error: str, *, tries: int, owed: Owed | None, detail: str = "") -> dict:
        """Log a send's attempts and keep what is still owed. Returns the figures for the timeline."""
        now = workflow.now()
        dedupe_key = ids.dedupe_key(self._workflow_id(), rung_key)
        figures: dict = {}
        failed: dict[str, str] = {}
        delivered_now: list[str] = []
        if delivered is None:  # the send itself failed: every channel not yet reached is still owed
            failed[ALL_CHANNELS] = error
        else:
            figures["matched"] = delivered.matched
            if delivered.matched == 0 and owed is None:
                self.state.attempts.append(AttemptLog(
                    attempt_key=ids.attempt_key(dedupe_key, ids.NO_CHANNEL_ID, tries), dedupe_key=dedupe_key,
                    kind=kind, tags=",".join(tags), channel_id=ids.NO_CHANNEL_ID, channel="", service="", attempt=tries,
                    status=DeliveryStatus.no_channel, error=f"没有为标签 {', '.join(tags)} 配置通知渠道", at=now))
            for r in delivered.results:
                if r.status in (DeliveryStatus.delivered, DeliveryStatus.accepted_unconfirmed, DeliveryStatus.failed):
                    self.state.attempts.append(AttemptLog(
                        attempt_key=ids.attempt_key(dedupe_key, r.channel_id, tries), dedupe_key=dedupe_key, kind=kind,
                        tags=",".join(tags), channel_id=r.channel_id, channel=r.channel, service=r.service,
                        attempt=tries, status=r.status, error=r.error, at=r.at or now))
                if r.status in DELIVERED_STATES:
                    delivered_now.append(r.channel_id)
                elif r.status == DeliveryStatus.failed:
                    failed[r.channel_id] = r.error
        figures["delivered"] = len(delivered_now)
        if owed is not None:
            self.state.owed.remove(owed)
            if delivered is None:
                remaining = list(owed.channels)
            elif ALL_CHANNELS in owed.channels:  # now we know which channels they were
                remaining = list(failed)
            else:  # a channel no longer configured ("gone") is owed nothing
                status = {r.channel_id: r.status for r in delivered.results}
                remaining = [c for c in owed.channels
                             if status.get(c, DeliveryStatus.failed) == DeliveryStatus.failed]
            if delivered_now:
                figures["delivered_now"] = delivered_now
            if remaining:
                self.state.owed.append(replace(
                    owed, channels=remaining, tries=tries, last_error=_first_error(failed) or owed.last_error,
                    next_try_at=now + self._backoff(tries)))
            figures["still_owed"] = len(remaining)
            return figures
        if failed:
            figures["failed"] = len(failed)
            figures["error"] = _first_error(failed)
            superseded = self._supersede(milestone, kind, list(failed))
            if superseded:
                figures["superseded"] = superseded
            self.state.owed.append(Owed(
                rung_key=rung_key, milestone=milestone, kind=kind, tags=tags, channels=list(failed),
                first_failed_at=now, next_try_at=now + self._backoff(1), last_error=_first_error(failed),
                detail=detail))
        return figures

    def _supersede(self, milestone: str, kind: str, channels: list[str]) -> list[str]:
        """A newer repeat says what an older owed one said ("still overdue"): the channel is owed the newer
        one only, so a channel down for days is not owed a message per repeat."""
        if kind != NotificationKind.repeat:
            return []
        superseded = []
        for older in list(self.state.owed):
            if older.kind != NotificationKind.repeat or older.milestone != milestone:
                continue
            left = [c for c in older.channels if c not in channels]
            if len(left) != len(older.channels):
                superseded.append(older.rung_key)
                self.state.owed.remove(older)
                if left:
                    self.state.owed.append(replace(older, channels=left))
        return superseded

    def _backoff(self, tries: int) -> timedelta:
        delivery = self.policy.delivery
        seconds = min(delivery.retry_first_seconds * 2 ** max(tries - 1, 0), delivery.retry_max_seconds)
        return timedelta(seconds=seconds)

    def _alert_at(self, owed: Owed) -> datetime | None:
        if owed.alerted or owed.kind == NotificationKind.channel_failure:
            return None
        return owed.first_failed_at + timedelta(seconds=self.policy.delivery.alert_after_seconds)

    async def _alert_supervisor(self, owed: Owed) -> None:
        """Channels failing for a while are reported to the supervisor, in addition to being owed."""
        async with self.lock:
            if owed not in self.state.owed:
                return
            self.state.owed.remove(owed)
            owed = replace(owed, alerted=True)
            self.state.owed.append(owed)
        clock = self._clock(owed.milestone)
        detail = f"{len(owed.channels)} 个渠道已连续 {owed.tries} 次发送失败：{owed.last_error}"[:400]
        key = ids.channel_failure_key(owed.rung_key)
        delivered, error = await self._deliver(NotificationKind.channel_failure, ["supervisor"], key, clock, None, 1,
                                               detail=detail)
        async with self.lock:
            payload = {"rung": owed.rung_key, "milestone": owed.milestone, "error": owed.last_error,
                       "channels": len(owed.channels), "tries": owed.tries}
            payload.update(self._settle(key, owed.milestone, NotificationKind.channel_failure, ["supervisor"],
                                        delivered, error,
                                        tries=1, owed=None, detail=detail))
            self._append(EventKind.channel_failure_escalated, SYSTEM, payload,
                         key=ids.rung_event_key(self._workflow_id(), key))

    def _drop_owed_not_due(self) -> None:
        """What is owed for a milestone met or waived, or an incident closed, is no longer due; nor is a rung
        of a deadline that has moved since (a level change, the next follow-up): it names the old time."""
        for owed in list(self.state.owed):
            clock = self._clock(owed.milestone)
            current = clock is not None and owed.rung_key.startswith(ids.rung_prefix(clock.key, clock.generation))
            if self.state.status == OPEN and clock is not None and clock.open and current:
                continue
            party_clock = self._clock(ids.clock_of_notice(owed.rung_key)) if owed.kind == NotificationKind.assigned \
                else None
            if party_clock is not None and party_clock.open and self.state.status == OPEN:
                continue  # a supporting party's or a task's 【新交办】 is owed while its clock is open
            if owed.kind == NotificationKind.assigned and self.state.status == OPEN \
                    and owed.rung_key.endswith(f"/{self.state.facts.party_code}"):
                continue  # a 【新交办】 is owed while the incident is open and with that party
            if owed.kind == NotificationKind.urge and self.state.status == OPEN:
                continue  # a 督办 is owed while the incident is open
            reason: str
            if self.state.status != OPEN:
                reason = IncidentStatus.closed
            elif party_clock is not None:
                reason = party_clock.state
            elif owed.kind in (NotificationKind.assigned, NotificationKind.urge):
                reason = EventKind.reassigned
            elif clock is None or clock.open:  # dropped by a level change, or its deadline moved since
                reason = RESCHEDULED
            else:
                reason = clock.state
            self.state.owed.remove(owed)
            self._append(EventKind.notification_cancelled, SYSTEM, {
                "rung": owed.rung_key, "milestone": owed.milestone, "tags": owed.tags, "reason": reason,
                "channels": len(owed.channels), "tries": owed.tries,
            }, key=ids.cancelled_event_key(self._workflow_id(), owed.rung_key))

    async def _deliver(self, kind: str, tags: list[str], rung_key: str, clock: clk.MilestoneClock | None,
                       channels: list[str] | None, attempt: int, detail: str = "",
                       local: bool = False) -> tuple[Delivered | None, str]:
        facts = self.state.facts
        message = Deliver(
            dedupe_key=ids.dedupe_key(self._workflow_id(), rung_key), incident_id=facts.incident_id,
            human_id=facts.human_id, title=facts.title, level=facts.level,
            party_name=self._party_of(rung_key, clock)[1],
            kind=kind, tags=tags, channels=channels, attempt=attempt,
            milestone=clock.key if clock else "", milestone_label=clock.label if clock else "",
            due_at=clock.due_at if clock else None, drill=facts.drill,
            link=f"{self.public_url}/incidents/{facts.human_id}", detail=detail,
        )
        if local and attempt == 1 and self.local_first:
            # A new incident's 【新交办】 (since "local-first-try"): its first try runs inside the task that opened
            # the clocks, no activity task and no second workflow task. When it cannot finish, the activity below
            # takes over as the same try; the ledger knows the try (`attempt`) and waits for a claim of its own.
            # Only there: a local activity holds the workflow task, and a rung sent while the database is away
            # (its ledger calls wait out their deadlines) would keep a person's action waiting past the API's
            # patience (tests/system/test_long_faults.py, the database away across a breach: 503).
            try:
                return await workflow.execute_local_activity(
                    activities.deliver, message, start_to_close_timeout=LOCAL_FIRST_TIMEOUT,
                    retry_policy=LOCAL_FIRST_RETRY, summary=f"{kind} {rung_key}"), ""
            except FailureError as err:
                workflow.logger.warning("first try of %s did not finish, as an activity now: %s", rung_key,
                                        getattr(err, "cause", None) or err)
        try:
            delivered = await workflow.execute_activity(
                activities.deliver, message, start_to_close_timeout=timedelta(minutes=1),
                retry_policy=DELIVER_RETRY, summary=f"{kind} {rung_key}",
            )
            return delivered, ""
        except FailureError as err:
            cause = getattr(err, "cause", None) or err
            return None, str(cause.message if isinstance(cause, FailureError) else cause)

    # --- the record ----------------------------------------------------------------------------------

    def _append(self, kind: str, actor: str, payload: dict, *, key: str, at: datetime | None = None) -> int:
        """Put one timeline event (``key``: its event key, desk.ids) in the outbox; the writer takes it to SQL
        in order."""
        self.state.event_seq += 1
        self.state.outbox.append(TimelineEntry(
            event_key=key, seq=self.state.event_seq, kind=kind, actor=actor,
            at=at or workflow.now(), payload=payload))
        return self.state.event_seq

    async def _write_outbox(self) -> None:
        """Write the outbox, oldest first, for as long as the run lasts."""
        while True:
            await workflow.wait_condition(lambda: bool(self.state.outbox or self.state.attempts))
            try:
                await self._write_batch()
            except FailureError as err:  # only a non-retryable refusal ends the retried write: say it loudly
                workflow.logger.error("timeline write refused, trying again in a minute: %s", err.cause or err)
                await workflow.sleep(timedelta(minutes=1))

    async def _write_batch(self) -> None:
        entries, attempts = list(self.state.outbox), list(self.state.attempts)
        batch = RecordBatch(state=replace(self.state, outbox=[], attempts=[], owed=[]), entries=entries,
                            attempts=attempts, policy_name=self.policy.name)
        summary = ",".join(e.kind for e in entries[:3]) or "attempts"
        try:
            await workflow.execute_local_activity(
                activities.record_batch, batch, start_to_close_timeout=timedelta(seconds=5),
                schedule_to_close_timeout=timedelta(seconds=12), retry_policy=RECORD_LOCAL_RETRY, summary=summary)
        except FailureError as err:  # ActivityError; a local activity's may also come as its cause alone
            # The database is away (or refused the batch): actions stop waiting for the record, the
            # clocks go on, and an activity retries until it is back.
            self.record_degraded = True
            workflow.logger.warning("timeline write deferred: %s", getattr(err, "cause", None) or err)
            await workflow.execute_activity(
                activities.record_batch, batch, start_to_close_timeout=timedelta(seconds=30), retry_policy=RECORD_RETRY,
                summary=summary)
            self.record_degraded = False
        written = {e.event_key for e in entries}
        logged = {a.attempt_key for a in attempts}
        self.state.outbox = [e for e in self.state.outbox if e.event_key not in written]
        self.state.attempts = [a for a in self.state.attempts if a.attempt_key not in logged]
        if entries:
            self.state.written_seq = max(self.state.written_seq, entries[-1].seq)

    async def _event(self, kind: str, actor: str, payload: dict, at: datetime) -> int:
        """A human action's event: in the outbox (keyed by the update's id), or written inline on the old branch."""
        if not self.durable:
            return await self._record_v3(kind, actor, payload)
        update = workflow.current_update_info()
        return self._append(kind, actor, payload, at=at,
                            key=ids.update_event_key(self._workflow_id(), update.id if update else kind))

    async def _recorded(self, seq: int) -> None:
        """An action answers once its event is in SQL, or at once while the database is away (the API then
        says the action took effect and will be recorded)."""
        if self.durable:
            await workflow.wait_condition(lambda: self.state.written_seq >= seq or self.record_degraded)

    # --- human actions --------------------------------------------------------------------------------
    # Each rule is checked by the validator (a refused action never enters history) and again under the
    # lock (two actions validated at the same moment cannot both pass).

    @workflow.update
    async def acknowledge(self, cmd: Acknowledge) -> IncidentState:
        async with self.lock:
            self._recheck(self._validate_acknowledge, cmd)
            at = self._action_time(cmd)
            key = self._acknowledgement_of(cmd.party_code)
            clock = self._clock(key)
            if clock is not None and clock.open:
                self._put_clock(clk.meet(clock, at))
            payload: dict = {"note": cmd.note, "on_time": self._on_time(key)}
            if key != "acknowledge":  # a supporting party's own acknowledgement
                payload["party"] = {"code": cmd.party_code, "name": self._party_of(key, None)[1]}
            seq = await self._event(EventKind.acknowledged, cmd.actor, payload, at)
            self._drop_owed()
        await self._recorded(seq)
        return self._changed()

    @acknowledge.validator
    def _validate_acknowledge(self, cmd: Acknowledge) -> None:
        self._require_open()
        clock = self._clock(self._acknowledgement_of(cmd.party_code))
        if clock is not None and clock.state in clk.DONE_STATES:
            raise _reject("该事件已签收，无需重复签收。", why.ALREADY_ACKNOWLEDGED)
        self._check_text(cmd.note, "note")

    @workflow.update
    async def record_release(self, cmd: RecordRelease) -> IncidentState:
        async with self.lock:
            self._recheck(self._validate_release, cmd)
            recorded_at = self._action_time(cmd)
            at = cmd.released_at or recorded_at  # when it was released; the event is dated when it was recorded
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
            payload = {"released_at": at.isoformat(), "channel": cmd.channel, "url": cmd.url, "summary": cmd.summary,
                       "met": met, "on_time": {k: self._on_time(k) for k in met}}
            # the three parts only when given: a release recorded before they existed reads as before
            payload.update({part: text for part, text in (("facts", cmd.facts), ("measures", cmd.measures),
                                                          ("progress", cmd.progress)) if text})
            seq = await self._event(RELEASE_EVENT[cmd.kind], cmd.actor, payload, recorded_at)
            self._drop_owed()
        await self._recorded(seq)
        return self._changed()

    @record_release.validator
    def _validate_release(self, cmd: RecordRelease) -> None:
        self._require_open()
        if cmd.kind not in ("release", "press_conference", "update"):
            raise _reject(f"未知的发布类型：{cmd.kind}", why.RELEASE_KIND_UNKNOWN, INVALID, kind=cmd.kind)
        at = cmd.released_at
        if at is not None:
            if at.tzinfo is None:
                raise _reject("发布时间必须带时区。", why.RELEASE_TIME_WITHOUT_ZONE, INVALID)
            if at < self.state.facts.detected_at:
                raise _reject("发布时间早于舆情发现时间，请核对后重新填写。", why.RELEASE_BEFORE_DETECTED, INVALID)
            if at > workflow.now() + CLOCK_SKEW:
                raise _reject("发布时间不能晚于当前时间。", why.RELEASE_IN_FUTURE, INVALID)
        if cmd.kind == "update" and not self._done("first_release"):
            raise _reject("尚未记录首次权威信息发布，请先记录“发布权威信息”。", why.FIRST_RELEASE_MISSING)
        for text, name in ((cmd.summary, "summary"), (cmd.channel, "channel"), (cmd.url, "url"),
                           (cmd.facts, "facts"), (cmd.measures, "measures"), (cmd.progress, "progress")):
            self._check_text(text, name)

    @workflow.update
    async def add_note(self, cmd: AddNote) -> IncidentState:
        async with self.lock:
            seq = await self._event(EventKind.note, cmd.actor, {"text": cmd.text}, self._action_time(cmd))
        await self._recorded(seq)
        return self.state

    @add_note.validator
    def _validate_note(self, cmd: AddNote) -> None:
        if not cmd.text.strip():
            raise _reject("备注内容不能为空。", why.NOTE_EMPTY, INVALID)
        self._check_text(cmd.text, "text")

    @workflow.update
    async def urge(self, cmd: Urge) -> IncidentState:
        """督办: the supervisor's words go to the party through its channels (as a 【督办】 message) and stay in
        the timeline. A new handler: runs started before it never receive one, so it needs no patch."""
        async with self.lock:
            self._recheck(self._validate_urge, cmd)
            self.state.urges_made += 1
            key = ids.urge_key(self.state.urges_made)
            seq = await self._event(EventKind.urged, cmd.actor, {"text": cmd.text, "rung": key}, self._action_time(cmd))
            self.state.notices_due.append(Notice(key=key, kind=NotificationKind.urge, detail=cmd.text,
                                                 actor=cmd.actor))
        await self._recorded(seq)
        return self._changed()

    @urge.validator
    def _validate_urge(self, cmd: Urge) -> None:
        self._require_open()
        if not self.durable:
            raise _reject("该事件的处理流程版本较旧，不支持督办；请改用备注。", why.URGE_UNSUPPORTED, CONFLICT)
        if not cmd.text.strip():
            raise _reject("请填写督办意见。", why.URGE_EMPTY, INVALID)
        self._check_text(cmd.text, "text")

    @workflow.update
    async def add_attachments(self, cmd: AddAttachments) -> IncidentState:
        """Files kept as evidence: one event per file (its record writes the attachment row with it), all in
        one task, so an upload is in the timeline whole or not at all. A new handler: no patch needed."""
        async with self.lock:
            self._recheck(self._validate_attachments, cmd)
            at = self._action_time(cmd)
            update = workflow.current_update_info()
            base = ids.update_event_key(self._workflow_id(), update.id if update else "attachments")
            seq = 0
            for n, f in enumerate(cmd.files, 1):
                seq = self._append(EventKind.attachment_added, cmd.actor, {
                    "attachment": f.key, "sha256": f.sha256, "size": f.size, "content_type": f.content_type,
                    "name": f.name, "thumb_sha256": f.thumb_sha256,
                }, at=at, key=f"{base}/{n}")
        await self._recorded(seq)
        return self.state

    @add_attachments.validator
    def _validate_attachments(self, cmd: AddAttachments) -> None:
        if not self.durable:
            raise _reject("该事件的处理流程版本较旧，不支持上传附件。", why.ATTACHMENT_UNSUPPORTED, CONFLICT)
        if not cmd.files:
            raise _reject("请选择要上传的文件。", why.ATTACHMENT_NONE, INVALID)

    @workflow.update
    async def withdraw_attachment(self, cmd: WithdrawAttachment) -> IncidentState:
        """Evidence is never deleted: withdrawn with a reason, and still listed."""
        async with self.lock:
            self._recheck(self._validate_withdraw, cmd)
            self.state.withdrawn_attachments.append(cmd.key)
            seq = await self._event(EventKind.attachment_withdrawn, cmd.actor, {
                "attachment": cmd.key, "name": cmd.name, "sha256": cmd.sha256, "reason": cmd.reason,
            }, self._action_time(cmd))
        await self._recorded(seq)
        return self.state

    @withdraw_attachment.validator
    def _validate_withdraw(self, cmd: WithdrawAttachment) -> None:
        if not self.durable:
            raise _reject("该事件的处理流程版本较旧，不支持上传附件。", why.ATTACHMENT_UNSUPPORTED, CONFLICT)
        self._require_reason(cmd.reason)
        if cmd.key in self.state.withdrawn_attachments:
            raise _reject(f"附件“{cmd.name}”已撤回。", why.ATTACHMENT_WITHDRAWN, name=cmd.name)

    @workflow.update
    async def reassign(self, cmd: Reassign) -> IncidentState:
        async with self.lock:
            self._recheck(self._validate_reassign, cmd)
            facts = self.state.facts
            before = (facts.party_code, facts.party_name)
            self.state.facts = replace(facts, party_code=cmd.party_code, party_name=cmd.party_name)
            workflow.upsert_search_attributes([PARTY_ATTR.value_set(cmd.party_code)])
            if self.announce:
                self._assign(cmd.party_code)
            seq = await self._event(EventKind.reassigned, cmd.actor, {
                "from": {"code": before[0], "name": before[1]}, "to": {"code": cmd.party_code, "name": cmd.party_name},
                "reason": cmd.reason,
            }, self._action_time(cmd))
        await self._recorded(seq)
        return self._changed()

    @reassign.validator
    def _validate_reassign(self, cmd: Reassign) -> None:
        self._require_open()
        self._require_reason(cmd.reason)
        if cmd.party_code == self.state.facts.party_code:
            raise _reject("该事件已由此单位负责。", why.SAME_PARTY, party=cmd.party_code)

    @workflow.update
    async def change_level(self, cmd: ChangeLevel) -> IncidentState:
        async with self.lock:
            self._recheck(self._validate_level, cmd)
            facts = self.state.facts
            before = facts.level
            self.state.clocks, added, dropped = clk.change_level(
                self.state.clocks, self.policy, cmd.level, facts.detected_at, workflow.now())
            self.state.facts = replace(facts, level=cmd.level)
            workflow.upsert_search_attributes([LEVEL_ATTR.value_set(cmd.level)])
            seq = await self._event(EventKind.level_changed, cmd.actor, {
                "from": before, "to": cmd.level, "reason": cmd.reason, "added": added, "dropped": dropped,
                "deadlines": {c.key: c.due_at.isoformat() for c in self.state.clocks if c.open},
            }, self._action_time(cmd))
            self._drop_owed()
        await self._recorded(seq)
        return self._changed()

    @change_level.validator
    def _validate_level(self, cmd: ChangeLevel) -> None:
        self._require_open()
        self._require_reason(cmd.reason)
        if cmd.level not in LEVELS:
            raise _reject(f"未知的事件级别：{cmd.level}", why.LEVEL_UNKNOWN, INVALID, level=cmd.level)
        if cmd.level == self.state.facts.level:
            raise _reject("事件已是该级别。", why.SAME_LEVEL, level=cmd.level)

    @workflow.update
    async def waive(self, cmd: Waive) -> IncidentState:
        async with self.lock:
            self._recheck(self._validate_waive, cmd)
            clock = self._clock(cmd.milestone)
            if clock is None or not clock.open:
                raise _reject("该时限已完成或已豁免。", why.MILESTONE_NOT_OPEN, milestone=cmd.milestone,
                              label=clock.label if clock else cmd.milestone)
            self._put_clock(replace(clock, state=clk.WAIVED, waived_reason=cmd.reason))
            seq = await self._event(EventKind.waived, cmd.actor, {"milestone": cmd.milestone, "reason": cmd.reason},
                                    self._action_time(cmd))
            self._drop_owed()
        await self._recorded(seq)
        return self._changed()

    @waive.validator
    def _validate_waive(self, cmd: Waive) -> None:
        self._require_open()
        self._require_reason(cmd.reason)
        clock = self._clock(cmd.milestone)
        if clock is None:
            raise _reject(f"该事件没有“{cmd.milestone}”这一时限。", why.MILESTONE_UNKNOWN, INVALID,
                          milestone=cmd.milestone)
        if not clock.open:
            raise _reject(f"“{clock.label}”已完成或已豁免。", why.MILESTONE_NOT_OPEN, milestone=clock.key,
                          label=clock.label)

    @workflow.update
    async def close(self, cmd: Close) -> IncidentState:
        async with self.lock:
            self._recheck(self._validate_close, cmd)
            at = self._action_time(cmd)
            # A follow-up clock not yet due simply stops; the required milestones are all done.
            self.state.clocks = [c for c in self.state.clocks if not (c.key == FOLLOW_UP and c.open)]
            self.state.status, self.state.closed_at = CLOSED, at
            seq = await self._event(EventKind.closed, cmd.actor, {"reason": cmd.reason}, at)
            self._drop_owed()
        await self._recorded(seq)
        return self._changed()

    @close.validator
    def _validate_close(self, cmd: Close) -> None:
        self._require_open()
        self._check_text(cmd.reason, "reason")
        blocking = clk.blocking_close(self.state.clocks, workflow.now())
        if blocking:
            labels = "、".join(c.label for c in blocking)
            raise _reject(f"不能结案：{labels}尚未完成，请先完成或经批准豁免（须写明理由）。", why.CLOSE_BLOCKED,
                          milestones={c.key: c.label for c in blocking})

    @workflow.update
    async def reopen(self, cmd: Reopen) -> IncidentState:
        async with self.lock:
            self._recheck(self._validate_reopen, cmd)
            now = workflow.now()
            self.state.status, self.state.closed_at = OPEN, None
            if self._done("first_release"):
                self._roll_follow_up(now)
            seq = await self._event(EventKind.reopened, cmd.actor, {"reason": cmd.reason}, self._action_time(cmd))
        await self._recorded(seq)
        return self._changed()

    @reopen.validator
    def _validate_reopen(self, cmd: Reopen) -> None:
        self._require_not_merged()
        if self.state.status != CLOSED:
            raise _reject("事件未结案，无需重新打开。", why.NOT_CLOSED)
        self._require_reason(cmd.reason)

    # --- duplicates and related incidents (SPEC §9) -------------------------------------------------------
    # New handlers only: runs started before them never receive them, and nothing they do changes what an
    # incident without a link or a merge does, so they need no patch. Linking and merging need the
    # durable design's outbox (older runs refuse them, as they refuse an urge).

    @workflow.update
    async def link_related(self, cmd: LinkRelated) -> IncidentState:
        """Related (the same topic from another source): a timeline entry here and a link row both pages show."""
        async with self.lock:
            self._validate_link(cmd)
            self.state.related.append(cmd.other)
            seq = await self._event(EventKind.linked, cmd.actor, {
                "other": cmd.other, "other_id": cmd.other_id, "title": cmd.other_title, "reason": cmd.reason,
            }, self._action_time(cmd))
        await self._recorded(seq)
        return self.state

    @link_related.validator
    def _validate_link(self, cmd: LinkRelated) -> None:
        self._require_durable()
        self._require_not_merged()
        if cmd.other == self.state.facts.human_id:
            raise _reject("不能把事件与它自己关联。", why.LINK_SELF, INVALID)
        if cmd.other in self.state.related:
            raise _reject(f"已与 {cmd.other} 关联。", why.LINK_ALREADY, other=cmd.other)
        self._check_text(cmd.reason, "reason")

    @workflow.update
    async def merge_into(self, cmd: MergeInto) -> IncidentState:
        """Close as a duplicate of ``cmd.into``: every clock stops where it stands (a deadline already past stays
        missed, one not yet due is stopped with the merge as its reason), nothing more is sent, and the
        survivor is told through a signal so its timeline says what was merged into it."""
        async with self.lock:
            self._validate_merge(cmd)
            at = self._action_time(cmd)
            reason = f"并入 {cmd.into}"
            stopped, missed = [], []
            clocks = []
            for clock in self.state.clocks:
                if clock.open and clock.key == FOLLOW_UP:
                    continue  # as at closing: the rolling follow-up clock simply stops
                if clock.open and clock.due_at <= at:
                    clock = replace(clock, state=clk.OVERDUE)
                    missed.append(clock.key)
                elif clock.open:
                    clock = replace(clock, state=clk.WAIVED, waived_reason=reason)
                    stopped.append(clock.key)
                clocks.append(clock)
            self.state.clocks = clocks
            self.state.status, self.state.closed_at, self.state.merged_into = CLOSED, at, cmd.into
            seq = await self._event(EventKind.merged, cmd.actor, {
                "into": cmd.into, "title": cmd.into_title, "reason": cmd.reason, "stopped": stopped, "missed": missed,
            }, at)
            self._drop_owed()
        try:
            await workflow.get_external_workflow_handle(cmd.into_workflow_id).signal(
                IncidentWorkflow.merged_from, MergedFrom(actor=cmd.actor, human_id=self.state.facts.human_id,
                                                         title=self.state.facts.title, at=at, reason=cmd.reason))
        except FailureError as err:  # the survivor's run has ended: its page still lists this one (SQL)
            workflow.logger.warning("could not tell %s of the merge: %s", cmd.into, err)
        await self._recorded(seq)
        return self._changed()

    @merge_into.validator
    def _validate_merge(self, cmd: MergeInto) -> None:
        self._require_durable()
        self._require_not_merged()
        if cmd.into == self.state.facts.human_id:
            raise _reject("不能把事件合并到它自己。", why.MERGE_SELF, INVALID)
        self._require_open()
        self._check_text(cmd.reason, "reason")

    @workflow.signal
    async def merged_from(self, msg: MergedFrom) -> None:
        """The survivor's side of a merge: one timeline entry (keyed by the merged incident, so never twice)."""
        if not self.durable:
            return
        async with self.lock:
            self._append(EventKind.merged_from, msg.actor, {"from": msg.human_id, "title": msg.title,
                                                            "reason": msg.reason},
                         key=ids.merged_from_event_key(self._workflow_id(), msg.human_id), at=msg.at)

    def _require_durable(self, *, shared: bool = False) -> None:
        """A run started before "durable-delivery" cannot take the newer actions (links, merges, shared duties)."""
        if not self.durable:
            if shared:
                raise _reject("该事件的处理流程版本较旧，不支持配合单位和督办事项；请改用备注。", why.SHARED_UNSUPPORTED)
            raise _reject("该事件的处理流程版本较旧，不支持此操作；请改用备注。", why.OLD_RUN)

    def _require_not_merged(self) -> None:
        if self.state.merged_into:
            raise _reject(f"该事件已并入 {self.state.merged_into}，请在该事件中继续处理。", why.MERGED_ALREADY,
                          into=self.state.merged_into)

    # --- shared responsibility: supporting parties (牵头/配合) and tasks (督办事项) ---------------------------
    # New handlers: a run never received them before they existed, so they need no patch. Their clocks are
    # MilestoneClocks with a ``party``: the same ladder, rung keys and owed messages as the lead's milestones.

    @workflow.update
    async def add_support(self, cmd: AddSupport) -> IncidentState:
        async with self.lock:
            self._recheck(self._validate_add_support, cmd)
            at = self._action_time(cmd)
            named = SupportingParty(n=len(self.state.supporting) + 1, party_code=cmd.party_code,
                                    party_name=cmd.party_name, added_at=at, added_by=cmd.actor)
            clock = self._add_supporting(named, at)
            seq = await self._event(EventKind.support_added, cmd.actor, {
                "party": {"code": cmd.party_code, "name": cmd.party_name}, "clock": clock.key if clock else None,
                "due_at": clock.due_at.isoformat() if clock else None}, at)
        await self._recorded(seq)
        return self._changed()

    @add_support.validator
    def _validate_add_support(self, cmd: AddSupport) -> None:
        self._require_open()
        self._require_durable(shared=True)
        if cmd.party_code == self.state.facts.party_code:
            raise _reject("该单位是本事件的牵头单位，不能同时作为配合单位。", why.SUPPORT_IS_LEAD, INVALID,
                          party=cmd.party_code)
        if any(s.party_code == cmd.party_code for s in self.state.supporting):
            raise _reject("该单位已是本事件的配合单位。", why.SUPPORT_ALREADY, INVALID, party=cmd.party_code)

    @workflow.update
    async def assign_task(self, cmd: AssignTask) -> IncidentState:
        async with self.lock:
            self._recheck(self._validate_assign_task, cmd)
            at = self._action_time(cmd)
            task = Task(n=len(self.state.tasks) + 1, party_code=cmd.party_code, party_name=cmd.party_name,
                        text=cmd.text.strip(), due_at=cmd.due_at, assigned_by=cmd.actor, assigned_at=at,
                        needs_attachment=cmd.needs_attachment)
            self.state.tasks.append(task)
            clock = clk.task_clock(task.n, task.party_code, task.text, at, task.due_at, workflow.now())
            self.state.clocks.append(clock)
            self._notify_party(clock, f"{task.text}（{task.due_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} 前完成）")
            seq = await self._event(EventKind.task_assigned, cmd.actor, {
                "task": task.n, "party": {"code": task.party_code, "name": task.party_name}, "text": task.text,
                "due_at": task.due_at.isoformat(), "needs_attachment": task.needs_attachment}, at)
        await self._recorded(seq)
        return self._changed()

    @assign_task.validator
    def _validate_assign_task(self, cmd: AssignTask) -> None:
        self._require_open()
        self._require_durable(shared=True)
        if cmd.by_party and cmd.by_party != self.state.facts.party_code:
            raise _reject("只有牵头单位或督办人员可以交办督办事项。", why.TASK_NOT_LEAD)
        if cmd.party_code != self.state.facts.party_code and \
                not any(s.party_code == cmd.party_code for s in self.state.supporting):
            raise _reject("督办事项只能交给本事件的牵头单位或配合单位。", why.TASK_PARTY_UNKNOWN, INVALID,
                          party=cmd.party_code)
        if not cmd.text.strip():
            raise _reject("请填写督办事项的内容。", why.TASK_EMPTY, INVALID)
        self._check_text(cmd.text, "text")
        if cmd.due_at.tzinfo is None or cmd.due_at <= workflow.now():
            raise _reject("完成时限必须晚于当前时间。", why.TASK_DUE_PAST, INVALID)

    @workflow.update
    async def complete_task(self, cmd: CompleteTask) -> IncidentState:
        async with self.lock:
            self._recheck(self._validate_complete_task, cmd)
            at = self._action_time(cmd)
            task = self.state.tasks[cmd.task - 1]
            self.state.tasks[cmd.task - 1] = replace(task, done_by=cmd.actor, done_note=cmd.note.strip(),
                                                     attachment=cmd.attachment)
            key = ids.task_clock_key(cmd.task)
            clock = self._clock(key)
            if clock is not None and clock.open:
                self._put_clock(clk.meet(clock, at))
            seq = await self._event(EventKind.task_done, cmd.actor, {
                "task": cmd.task, "party": {"code": task.party_code, "name": task.party_name},
                "note": cmd.note.strip(), "attachment": cmd.attachment, "on_time": self._on_time(key)}, at)
            self._drop_owed()
        await self._recorded(seq)
        return self._changed()

    @complete_task.validator
    def _validate_complete_task(self, cmd: CompleteTask) -> None:
        self._require_open()
        if not 1 <= cmd.task <= len(self.state.tasks):
            raise _reject("没有这一督办事项。", why.TASK_UNKNOWN, INVALID, task=cmd.task)
        task = self.state.tasks[cmd.task - 1]
        clock = self._clock(ids.task_clock_key(cmd.task))
        if clock is None or not clock.open:
            raise _reject("该督办事项已办结或已豁免。", why.TASK_NOT_OPEN, task=cmd.task)
        if cmd.by_party and cmd.by_party != task.party_code:
            raise _reject("该督办事项不是交给贵单位的。", why.TASK_NOT_YOURS, task=cmd.task)
        if task.needs_attachment and not cmd.attachment:
            raise _reject("该督办事项要求附上文件作为办理结果，请先上传附件。", why.TASK_FILE_REQUIRED, INVALID,
                          task=cmd.task)
        if not cmd.note.strip() and not cmd.attachment:
            raise _reject("请填写办理结果，或附上文件。", why.TASK_RESULT_MISSING, INVALID)
        self._check_text(cmd.note, "note")

    def _add_supporting(self, named: SupportingParty, window_start: datetime) -> clk.MilestoneClock | None:
        self.state.supporting.append(named)
        clock = clk.supporting_clock(self.policy, self.state.facts.level, named.n, named.party_code, window_start,
                                     workflow.now())
        if clock is not None:
            self.state.clocks.append(clock)
            self._notify_party(clock, f"配合{self.state.facts.party_name}处置；{clock.label} "
                                      f"{clock.due_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}")
        return clock

    def _notify_party(self, clock: clk.MilestoneClock, detail: str) -> None:
        """【新交办】 to the party of a supporting clock or a task, as the lead gets one (policy on_assign)."""
        if self.announce and self.policy.escalation.on_assign:
            self.state.notices_due.append(Notice(key=ids.party_notice_key(clock.key), kind=NotificationKind.assigned,
                                                 detail=detail))

    def _acknowledgement_of(self, party_code: str) -> str:
        """The acknowledgement clock a responder of this party meets: its own as a supporting party, else the lead's."""
        if party_code and party_code != self.state.facts.party_code:
            for named in self.state.supporting:
                if named.party_code == party_code:
                    return ids.supporting_clock_key(named.n)
        return "acknowledge"

    def _party_of(self, rung_key: str, clock: clk.MilestoneClock | None) -> tuple[str, str]:
        """(code, name) of the party a message is for: a supporting party's or task's clock (or its notice), else
        the lead."""
        facts = self.state.facts
        own = clock if clock is not None and clock.party else self._clock(ids.clock_of_notice(rung_key))
        if own is not None and own.party:
            names = {s.party_code: s.party_name for s in self.state.supporting}
            names.update({t.party_code: t.party_name for t in self.state.tasks})
            names[facts.party_code] = facts.party_name
            return own.party, names.get(own.party, own.party)
        return facts.party_code, facts.party_name

    @workflow.query(name="state")
    def current_state(self) -> IncidentState:
        return self.state

    @workflow.query(name="patches")
    def patches(self) -> dict[str, bool]:
        """Which patches this run took (False: it runs the old branch); `opinion-desk doctor` counts them."""
        return {pid: self.taken.get(pid, True) for pid in PATCHES}

    # --- helpers -----------------------------------------------------------------------------------------

    @staticmethod
    def _workflow_id() -> str:
        return workflow.info().workflow_id

    def _patched(self, patch_id: str) -> bool:
        if (patch_id in self.at_level or patch_id in FOLDED_LOCAL_FIRST and self.local_first
                or patch_id in FOLDED and self.one_marker):
            taken = True  # a run at a level, or with a folding marker, took these without a marker of their own
        else:
            taken = workflow.patched(patch_id)
        self.taken[patch_id] = taken
        return taken

    def _recheck(self, validator, cmd) -> None:  # noqa: ANN001 (one of this class's validators)
        if self.durable:
            validator(cmd)

    def _drop_owed(self) -> None:
        if self.durable:
            self._drop_owed_not_due()

    def _action_time(self, cmd) -> datetime:  # noqa: ANN001 (any action with received_at)
        """When the API received the action, bounded by this workflow's clock (never later than now): an
        acknowledgement clicked in time stays on time however late a worker gets to it."""
        now = workflow.now()
        if not self.durable or cmd.received_at is None or cmd.received_at > now + CLOCK_SKEW:
            return now
        return min(cmd.received_at, now)

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
            raise _reject("事件已结案；如需继续处理，请先重新打开。", why.INCIDENT_CLOSED)

    @staticmethod
    def _require_reason(reason: str) -> None:
        if not reason or not reason.strip():
            raise _reject("请填写理由。", why.REASON_MISSING, INVALID)
        if len(reason) > MAX_TEXT:
            raise _reject(f"理由不能超过 {MAX_TEXT} 字。", why.REASON_TOO_LONG, INVALID, max=MAX_TEXT)

    @staticmethod
    def _check_text(text: str, name: str) -> None:
        if text and len(text) > MAX_TEXT:
            raise _reject(f"{name} 不能超过 {MAX_TEXT} 字。", why.TEXT_TOO_LONG, INVALID, field=name, max=MAX_TEXT)


def _first_error(failed: dict[str, str]) -> str:
    return next((e for e in failed.values() if e), "")
