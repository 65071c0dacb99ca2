"""Deadline arithmetic: pure functions over milestone clocks, shared by the workflow and the API.

Rules (SPEC §4): every clock runs from ``detected_at``; reassignment never touches a clock; a level
change recomputes pending deadlines, keeps met ones, and escalates at once when the new deadline has
already passed; reminders that would fall before the window opens, or before the schedule was made,
are skipped rather than sent in the past.
"""

# Annotations stay real objects (no `from __future__ import annotations`): Temporal's workflow sandbox
# cannot resolve string annotations of these dataclasses when it decodes a continued run's input.

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from desk import ids
from desk.policy import FOLLOW_UP, MilestoneRule, Policy
from desk.vocab import MilestoneState, NotificationKind
from desk.workdays import UnknownYear, add_working_days

PENDING, MET, MET_LATE, OVERDUE, WAIVED = (MilestoneState.pending, MilestoneState.met, MilestoneState.met_late,
                                           MilestoneState.overdue, MilestoneState.waived)
DONE_STATES = (MET, MET_LATE, WAIVED)


# The one status rule (board, lists, incident page, countdowns): a deadline is at risk (amber) once three
# quarters of its window (from detection, or from the last release for a follow-up) have passed, and
# overdue (red) once it has passed.
# A time "now" from a phone or PC whose clock runs a little fast is still now: the one tolerance, used by the forms'
# "not in the future" check and by the workflow's refusal of future times.
CLOCK_SKEW = timedelta(minutes=2)
AT_RISK_SHARE = 0.75


def at_risk_from(window_start: datetime, due_at: datetime) -> datetime:
    return window_start + (due_at - window_start) * AT_RISK_SHARE

@dataclass
class MilestoneClock:
    key: str
    label: str
    window_start: datetime
    due_at: datetime
    planned_from: datetime  # reminders before this instant are skipped (not sent in the past)
    state: str = PENDING
    generation: int = 1  # bumps whenever the deadline moves, so rung keys stay unique
    met_at: datetime | None = None
    waived_reason: str | None = None
    sent_rungs: list[str] = field(default_factory=list)
    # Repeats go out in order, so one number says which were sent: an incident overdue for months carries
    # one integer instead of thousands of keys, and its ladder is generated from there, not from the due time.
    repeats_sent: int = 0
    # Whose clock it is when not the incident's responsible (lead) party's: a supporting party's acknowledgement
    # or a task's party. Its ladder goes to that party's tags; a reassignment of the lead never touches it.
    party: str = ""

    @property
    def open(self) -> bool:
        return self.state in (PENDING, OVERDUE)


@dataclass(frozen=True)
class Rung:
    """One step of a milestone's ladder: when it is due and whom it goes to."""

    key: str  # unique within the incident, e.g. "first_release/g1/reminder-50%"
    milestone: str
    kind: str  # reminder | breach | repeat
    at: datetime
    tags: tuple[str, ...]


def resolve_tags(templates: list[str], party_code: str) -> tuple[str, ...]:
    tags: list[str] = []
    for t in templates:
        tag = {"party": party_code, "party-leaders": f"{party_code}-leaders"}.get(t, t)
        if tag not in tags:
            tags.append(tag)
    return tuple(tags)


def due_at(policy: Policy, rule: MilestoneRule, level: str, detected_at: datetime) -> datetime:
    """When the rule's milestone falls due for this level: a duration, or working days (desk.workdays)
    counted with the policy's holiday calendar. Raises UnknownYear past the years the calendar knows."""
    working_days = rule.due_working_days.get(level)
    if working_days:
        if policy.calendar is None:  # policy_from_dict refuses this; a hand-built policy might not
            raise UnknownYear(detected_at.year)
        return add_working_days(detected_at, working_days, policy.calendar)
    return detected_at + timedelta(seconds=rule.due_seconds[level])


def open_clocks(policy: Policy, level: str, detected_at: datetime, now: datetime) -> list[MilestoneClock]:
    """The milestones an incident of this level gets, with deadlines counted from detected_at."""
    clocks = []
    for rule in policy.milestones:
        if level not in rule.levels:
            continue
        due = due_at(policy, rule, level, detected_at)
        clocks.append(
            MilestoneClock(key=rule.key, label=rule.label, window_start=detected_at, due_at=due, planned_from=now)
        )
    return clocks


def deadlines(policy: Policy, level: str, detected_at: datetime) -> dict[str, datetime]:
    """Each milestone's due time for this level; raises UnknownYear as due_at does."""
    return {c.key: c.due_at for c in open_clocks(policy, level, detected_at, detected_at)}


def change_level(
    clocks: list[MilestoneClock], policy: Policy, level: str, detected_at: datetime, now: datetime
) -> tuple[list[MilestoneClock], list[str], list[str]]:
    """Recompute open deadlines for a new level. Returns (clocks, added keys, dropped keys).

    Met and waived milestones stay as they are. Open milestones the new level no longer has are
    dropped; milestones it newly has are added, their clocks still counted from detected_at.
    """
    result: list[MilestoneClock] = []
    dropped: list[str] = []
    by_key = {c.key: c for c in clocks}
    for clock in clocks:
        if clock.key == FOLLOW_UP or not clock.open or clock.party:  # a party's own clock keeps its deadline
            result.append(clock)
            continue
        rule = policy.rule(clock.key)
        if rule is None or level not in rule.levels:
            dropped.append(clock.key)
            continue
        due = due_at(policy, rule, level, detected_at)
        if due == clock.due_at:
            result.append(clock)
        else:
            state = OVERDUE if due <= now and clock.state == OVERDUE else PENDING
            result.append(replace(clock, due_at=due, planned_from=now, generation=clock.generation + 1, state=state))
    added = []
    for fresh in open_clocks(policy, level, detected_at, now):
        if fresh.key not in by_key:
            result.append(fresh)
            added.append(fresh.key)
    order = {rule.key: i for i, rule in enumerate(policy.milestones)}
    result.sort(key=lambda c: order.get(c.key, len(order)))
    return result, added, dropped


def ladder(clock: MilestoneClock, policy: Policy, party_code: str, until: datetime) -> list[Rung]:
    """Every rung of this clock's ladder due at or before ``until``, in time order."""
    if not clock.open:
        return []
    party_code = clock.party or party_code
    esc = policy.escalation
    window = clock.due_at - clock.window_start
    rungs: list[Rung] = []
    remind_tags = resolve_tags(esc.remind, party_code)
    for reminder in esc.reminders:
        if reminder.fraction is not None:
            at = clock.window_start + window * reminder.fraction
        else:
            at = clock.due_at - timedelta(seconds=reminder.before_due_seconds or 0)
        if at <= clock.window_start or at >= clock.due_at or at < clock.planned_from:
            continue  # outside the window, or already past when the schedule was made
        rungs.append(Rung(ids.rung_key(clock.key, clock.generation, f"reminder{reminder.spec}"), clock.key,
                          NotificationKind.reminder, at, remind_tags))
    breach_tags = resolve_tags(esc.on_breach, party_code)
    rungs.append(Rung(ids.rung_key(clock.key, clock.generation, "breach"), clock.key, NotificationKind.breach,
                      clock.due_at, breach_tags))
    step = timedelta(seconds=esc.repeat_every_seconds)
    # Repeats already past when the schedule was made are not sent: start from the first one after.
    n = (clock.planned_from - clock.due_at) // step + 1 if clock.planned_from > clock.due_at else 1
    n = max(n, clock.repeats_sent + 1)
    at = clock.due_at + step * n
    while at <= until:
        rungs.append(Rung(ids.rung_key(clock.key, clock.generation, ids.repeat_rung(n)), clock.key,
                          NotificationKind.repeat, at, breach_tags))
        n, at = n + 1, at + step
    rungs.sort(key=lambda r: r.at)
    return [r for r in rungs if r.at <= until]


def due_rungs(clocks: list[MilestoneClock], policy: Policy, party_code: str, now: datetime) -> list[Rung]:
    """Rungs whose time has come and that have not been sent yet, oldest first."""
    rungs = [
        r for c in clocks for r in ladder(c, policy, party_code, now) if r.key not in c.sent_rungs
    ]
    rungs.sort(key=lambda r: r.at)
    return rungs


def next_rung_at(clocks: list[MilestoneClock], policy: Policy, party_code: str, now: datetime,
                 beyond_horizon: bool = True) -> datetime | None:
    """When the next unsent rung falls due (None when no clock is open).

    Repeats already sent can lie past ``now`` (``workflow.now()`` is when the task started, and a worker
    catching up sends several at once), so the search moves on one repeat at a time until it finds an
    unsent one. ``beyond_horizon=False`` is the first version, which looked one interval ahead only and
    could then sleep with no timer; it stays for replaying runs recorded before the fix.
    """
    best: datetime | None = None
    step = timedelta(seconds=policy.escalation.repeat_every_seconds)
    for clock in clocks:
        if not clock.open:
            continue
        until = max(now + step, clock.due_at)
        for _ in range(len(clock.sent_rungs) + 2 if beyond_horizon else 1):
            unsent = [r for r in ladder(clock, policy, party_code, until) if r.key not in clock.sent_rungs]
            if unsent:
                if best is None or unsent[0].at < best:
                    best = unsent[0].at
                break
            until += step
    return best


def meet(clock: MilestoneClock, at: datetime) -> MilestoneClock:
    """The milestone was met at ``at`` (the time it happened, not when it was recorded)."""
    return replace(clock, state=MET if at <= clock.due_at else MET_LATE, met_at=at)


def follow_up_clock(policy: Policy, after: datetime, now: datetime, generation: int) -> MilestoneClock | None:
    """The rolling clock for the next follow-up release (动态发布), counted from the last release."""
    if not policy.follow_up_every_seconds:
        return None
    return MilestoneClock(
        key=FOLLOW_UP,
        label="动态发布",
        window_start=after,
        due_at=after + timedelta(seconds=policy.follow_up_every_seconds),
        planned_from=now,
        generation=generation,
    )


def supporting_clock(policy: Policy, level: str, n: int, party_code: str, window_start: datetime,
                     now: datetime) -> MilestoneClock | None:
    """The n-th supporting party's acknowledgement (牵头/配合): the policy's acknowledgement milestone for this
    level, counted from ``window_start`` (detection when named at opening, else when it was added: a party
    cannot acknowledge what it was not yet given), with the ladder going to that party."""
    rule = policy.rule("acknowledge")
    if rule is None or level not in rule.levels:
        return None
    return MilestoneClock(key=ids.supporting_clock_key(n), label=rule.label, window_start=window_start,
                          due_at=due_at(policy, rule, level, window_start), planned_from=now, party=party_code)


def task_clock(n: int, party_code: str, text: str, assigned_at: datetime, due: datetime,
               now: datetime) -> MilestoneClock:
    """The n-th task's (督办事项) clock: from its assignment to its due time, the ladder going to its party."""
    short = text if len(text) <= 40 else text[:39] + "…"
    return MilestoneClock(key=ids.task_clock_key(n), label=f"督办事项：{short}", window_start=min(assigned_at, due),
                          due_at=due, planned_from=now, party=party_code)


def lead_clocks(clocks: list[MilestoneClock]) -> list[MilestoneClock]:
    """The incident's own milestones (the lead party's), without the supporting parties' and tasks' clocks."""
    return [c for c in clocks if not c.party]


def blocking_close(clocks: list[MilestoneClock], now: datetime) -> list[MilestoneClock]:
    """Milestones that forbid closing: any required one not met or waived, and an overdue follow-up."""
    return [c for c in clocks if c.open and (c.key != FOLLOW_UP or c.due_at <= now)]
