"""The response policy as data: milestones, deadlines per level, the escalation ladder.

A policy is loaded from TOML (a preset name or a file path), validated, and turned into plain
dataclasses. The workflow receives the policy as part of its input (a snapshot), so editing the file
never changes a live incident. Nothing here does I/O except :func:`load_policy`.
"""

# Annotations stay real objects (no `from __future__ import annotations`): Temporal's workflow sandbox
# cannot resolve string annotations of these dataclasses when it decodes a continued run's input.

import re
import tomllib
import weakref
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from desk.vocab import Level, MilestoneKey
from desk.workdays import WorkCalendar

# Plain strings (the codes of desk.vocab): they go into the policy's dataclasses, the workflow's input.
LEVELS = tuple(level.value for level in Level)
MILESTONE_KEYS = (MilestoneKey.acknowledge.value, MilestoneKey.first_release.value, MilestoneKey.press_conference.value)
FOLLOW_UP = MilestoneKey.follow_up.value
PRESETS = ("bazhong", "national-2016", "drill")

_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_WORKING_DAYS = re.compile(r"^(\d+)\s*wd$")
_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the key that is wrong."""


def parse_duration(text: str, *, key: str = "duration") -> int:
    """'48h' -> 172800; '1h30m' -> 5400. Units: s, m, h, d."""
    cleaned = str(text).strip().lower()
    if "wd" in cleaned:
        raise PolicyError(f"{key}: '{text}': working days ('3wd') are allowed only as a milestone's due, "
                          f"on their own; write this one in s, m, h or d")
    parts = _DURATION.findall(cleaned)
    if not parts or _DURATION.sub("", cleaned).strip():
        raise PolicyError(f"{key}: '{text}' is not a duration; write e.g. '48h', '30m', '90s', '1d'")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds <= 0:
        raise PolicyError(f"{key}: '{text}' must be longer than zero")
    return seconds


def parse_due(text: str, *, key: str) -> tuple[int | None, int | None]:
    """A milestone's due: (seconds, None) for '48h', (None, working days) for '3wd'."""
    cleaned = str(text).strip().lower()
    found = _WORKING_DAYS.match(cleaned)
    if found:
        days = int(found.group(1))
        if days <= 0:
            raise PolicyError(f"{key}: '{text}' must be at least one working day")
        return None, days
    if "wd" in cleaned:
        raise PolicyError(f"{key}: '{text}' mixes working days with other units; write working days on their own "
                          f"('3wd') or a duration ('72h')")
    return parse_duration(text, key=key), None


@dataclass(frozen=True)
class Reminder:
    """One reminder rung: a share of the window elapsed, or an offset before the deadline."""

    spec: str  # as written: "50%" or "-1h"
    fraction: float | None = None
    before_due_seconds: int | None = None


@dataclass(frozen=True)
class MilestoneRule:
    key: str
    label: str
    due_seconds: dict[str, int]  # level -> seconds from detected_at
    levels: list[str]
    # level -> working days from detected_at (desk.workdays), for the levels whose due is written '3wd';
    # those levels have no entry in due_seconds.
    due_working_days: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Escalation:
    reminders: list[Reminder]
    on_breach: list[str]  # tag templates: party, party-leaders, supervisor, or a literal tag
    repeat_every_seconds: int
    remind: list[str] = field(default_factory=lambda: ["party"])
    # 【新交办】 at opening and on reassignment, to these tags; none (the default of a policy that does not say,
    # and of every run started before it existed) sends nothing.
    on_assign: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Delivery:
    """How a message a channel could not take is owed to it: retried with capped backoff until it is
    delivered (or no longer due), and the supervisor told once it has failed for ``alert_after``."""

    retry_first_seconds: int = 30
    retry_max_seconds: int = 600
    alert_after_seconds: int = 300


@dataclass(frozen=True)
class HandoverRule:
    """A shift handover (交接班) not confirmed by the incoming officer within ``confirm_within_seconds`` of being
    handed over is escalated to ``escalate_to`` (literal tags: supervisor, or any tag)."""

    confirm_within_seconds: int = 30 * 60
    escalate_to: list[str] = field(default_factory=lambda: ["supervisor"])


@dataclass(frozen=True)
class Policy:
    name: str
    milestones: list[MilestoneRule]
    escalation: Escalation
    follow_up_every_seconds: int | None = None
    reopen_within_seconds: int = 30 * 86400
    delivery: Delivery = field(default_factory=Delivery)
    # The official holidays and make-up working days, for working-day deadlines (None: the policy has none).
    calendar: WorkCalendar | None = None
    handover: HandoverRule = field(default_factory=HandoverRule)

    @property
    def uses_working_days(self) -> bool:
        return any(m.due_working_days for m in self.milestones)

    def rule(self, key: str) -> MilestoneRule | None:
        return next((m for m in self.milestones if m.key == key), None)

    def applies(self, key: str, level: str) -> bool:
        rule = self.rule(key)
        return rule is not None and level in rule.levels


# One object per distinct policy, for as long as something holds it (see `shared`).
_SHARED: weakref.WeakValueDictionary[str, Policy] = weakref.WeakValueDictionary()


def shared(policy: Policy) -> Policy:
    """The one Policy object of the process equal to ``policy`` (``policy`` itself the first time).

    Every incident carries its policy snapshot in its input, and the worker decodes a copy of it for every
    workflow instance it caches: 10,000 cached incidents of one policy would hold 10,000 equal copies (~4 KB
    each). A Policy is frozen and nothing changes its lists, so equal snapshots can be one object: the key is
    its repr, which spells every field (nested dataclasses, lists, dicts, floats exactly), so two policies
    share only when every value is the same. An incident keeps its own snapshot's values; only the copy is
    shared. Thread-safe enough: a race makes two equal objects, never a wrong one."""
    key = repr(policy)
    found = _SHARED.get(key)
    if found is None:
        _SHARED[key] = found = policy
    return found


def _parse_reminder(spec: str, key: str) -> Reminder:
    text = str(spec).strip()
    if text.endswith("%"):
        try:
            share = float(text[:-1]) / 100
        except ValueError:
            raise PolicyError(f"{key}: '{spec}' is not a percentage like '50%'") from None
        if not 0 < share < 1:
            raise PolicyError(f"{key}: '{spec}' must be between 0% and 100%")
        return Reminder(spec=text, fraction=share)
    if text.startswith("-"):
        return Reminder(spec=text, before_due_seconds=parse_duration(text[1:], key=key))
    raise PolicyError(f"{key}: '{spec}' must be a share of the window ('50%') or an offset before due ('-1h')")


def _tag_template(value: str, key: str) -> str:
    text = str(value).strip()
    if text in ("party", "party-leaders", "supervisor") or _TAG.match(text):
        return text
    raise PolicyError(f"{key}: '{value}' is not a tag; use party, party-leaders, supervisor or [a-z0-9][a-z0-9_-]*")


def _known_keys(table: dict, known: set[str], where: str) -> None:
    """A misspelt key would otherwise be ignored silently (and its rule never applied)."""
    for k in table:
        if k not in known:
            raise PolicyError(f"{where}.{k}: unknown key; expected one of {', '.join(sorted(known))}")


def policy_from_dict(data: dict, *, calendar: WorkCalendar | None = None) -> Policy:
    """Validate a parsed TOML document and build the policy. Errors name the offending key.

    ``calendar``: the holiday schedule (desk.holidays.official_calendar); kept in the policy only if one of its
    deadlines is in working days, and required then."""
    if not isinstance(data, dict):
        raise PolicyError("the policy must be a TOML table")
    known = {"name", "milestones", "follow_up", "escalation", "reopen_within", "delivery", "handover"}
    for k in data:
        if k not in known:
            raise PolicyError(f"{k}: unknown key; expected one of {', '.join(sorted(known))}")
    name = str(data.get("name") or "").strip()
    if not name:
        raise PolicyError("name: the policy needs a name")
    raw_milestones = data.get("milestones")
    if not isinstance(raw_milestones, list) or not raw_milestones:
        raise PolicyError("milestones: at least one [[milestones]] table is required")
    milestones: list[MilestoneRule] = []
    for i, raw in enumerate(raw_milestones):
        where = f"milestones[{i}]"
        if not isinstance(raw, dict):
            raise PolicyError(f"{where}: must be a table")
        _known_keys(raw, {"key", "label", "due", "levels"}, where)
        key = raw.get("key")
        if key not in MILESTONE_KEYS:
            raise PolicyError(f"{where}.key: '{key}' is not one of {', '.join(MILESTONE_KEYS)}")
        if any(m.key == key for m in milestones):
            raise PolicyError(f"{where}.key: '{key}' appears twice")
        levels = raw.get("levels", list(LEVELS))
        if not isinstance(levels, list) or not levels or any(lv not in LEVELS for lv in levels):
            raise PolicyError(f"{where}.levels: must be a list of levels from {', '.join(LEVELS)}")
        due = raw.get("due")
        if isinstance(due, str):
            parsed = {lv: parse_due(due, key=f"{where}.due") for lv in levels}
        elif isinstance(due, dict):
            missing = [lv for lv in levels if lv not in due]
            if missing:
                raise PolicyError(f"{where}.due: no deadline for level {', '.join(missing)}")
            unknown = [lv for lv in due if lv not in LEVELS]
            if unknown:
                raise PolicyError(f"{where}.due: unknown level {', '.join(unknown)}")
            parsed = {lv: parse_due(due[lv], key=f"{where}.due.{lv}") for lv in levels}
        else:
            raise PolicyError(f"{where}.due: write a duration ('48h'), working days ('3wd') or one per level "
                              f"({{ I = \"5h\", ... }})")
        due_seconds = {lv: seconds for lv, (seconds, _) in parsed.items() if seconds is not None}
        due_working_days = {lv: days for lv, (_, days) in parsed.items() if days is not None}
        if due_working_days and calendar is None:
            raise PolicyError(f"{where}.due: working days need the official holiday calendar, and none was loaded")
        label = str(raw.get("label") or key)
        milestones.append(MilestoneRule(key=key, label=label, due_seconds=due_seconds, levels=list(levels),
                                        due_working_days=due_working_days))

    follow_up = data.get("follow_up") or {}
    if not isinstance(follow_up, dict):
        raise PolicyError("follow_up: must be a table")
    _known_keys(follow_up, {"every"}, "follow_up")
    every = follow_up.get("every")
    follow_up_every = parse_duration(every, key="follow_up.every") if every else None

    esc = data.get("escalation") or {}
    if not isinstance(esc, dict):
        raise PolicyError("escalation: must be a table")
    _known_keys(esc, {"reminders", "on_breach", "remind", "repeat_every", "on_assign"}, "escalation")
    reminders = [_parse_reminder(r, f"escalation.reminders[{i}]") for i, r in enumerate(esc.get("reminders", []))]
    on_breach = [
        _tag_template(t, f"escalation.on_breach[{i}]")
        for i, t in enumerate(esc.get("on_breach", ["party", "party-leaders", "supervisor"]))
    ]
    remind = [_tag_template(t, f"escalation.remind[{i}]") for i, t in enumerate(esc.get("remind", ["party"]))]
    on_assign = [_tag_template(t, f"escalation.on_assign[{i}]") for i, t in enumerate(esc.get("on_assign", []))]
    repeat = parse_duration(esc.get("repeat_every", "2h"), key="escalation.repeat_every")
    reopen = parse_duration(data.get("reopen_within", "30d"), key="reopen_within")
    raw_delivery = data.get("delivery") or {}
    if not isinstance(raw_delivery, dict):
        raise PolicyError("delivery: must be a table")
    _known_keys(raw_delivery, {"retry_first", "retry_max", "alert_after"}, "delivery")
    delivery = Delivery(
        retry_first_seconds=parse_duration(raw_delivery.get("retry_first", "30s"), key="delivery.retry_first"),
        retry_max_seconds=parse_duration(raw_delivery.get("retry_max", "10m"), key="delivery.retry_max"),
        alert_after_seconds=parse_duration(raw_delivery.get("alert_after", "5m"), key="delivery.alert_after"),
    )
    if delivery.retry_max_seconds < delivery.retry_first_seconds:
        raise PolicyError("delivery.retry_max: must not be shorter than delivery.retry_first")
    uses_working_days = any(m.due_working_days for m in milestones)
    raw_handover = data.get("handover") or {}
    if not isinstance(raw_handover, dict):
        raise PolicyError("handover: must be a table")
    _known_keys(raw_handover, {"confirm_within", "escalate_to"}, "handover")
    escalate_to = raw_handover.get("escalate_to", ["supervisor"])
    if not isinstance(escalate_to, list) or not escalate_to:
        raise PolicyError("handover.escalate_to: must be a list of tags, e.g. [\"supervisor\"]")
    for i, tag in enumerate(escalate_to):
        if not _TAG.match(str(tag)):
            raise PolicyError(f"handover.escalate_to[{i}]: '{tag}' is not a tag ([a-z0-9][a-z0-9_-]*)")
    handover = HandoverRule(
        confirm_within_seconds=parse_duration(raw_handover.get("confirm_within", "30m"), key="handover.confirm_within"),
        escalate_to=[str(t) for t in escalate_to])
    return Policy(
        name=name,
        milestones=milestones,
        escalation=Escalation(reminders=reminders, on_breach=on_breach, repeat_every_seconds=repeat, remind=remind,
                              on_assign=on_assign),
        follow_up_every_seconds=follow_up_every,
        reopen_within_seconds=reopen,
        delivery=delivery,
        calendar=calendar if uses_working_days else None,
        handover=handover,
    )


def load_policy(name_or_path: str | Path, *, calendar: WorkCalendar | None = None) -> Policy:
    """Load a preset by name (bazhong, national-2016, drill) or a TOML file by path. ``calendar``: the holiday
    schedule a policy with working-day deadlines needs (desk.holidays.official_calendar)."""
    text_name = str(name_or_path)
    if text_name in PRESETS:
        text = resources.files("desk.presets").joinpath(f"{text_name}.toml").read_text(encoding="utf-8")
        source = f"preset {text_name}"
    else:
        path = Path(text_name)
        if not path.is_file():
            raise PolicyError(f"policy '{text_name}' is neither a preset ({', '.join(PRESETS)}) nor a readable file")
        text = path.read_text(encoding="utf-8")
        source = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    try:
        return policy_from_dict(data, calendar=calendar)
    except PolicyError as exc:
        line = _line_of(text, str(exc))
        raise PolicyError(f"{source}: {exc}{f' (line {line})' if line else ''}") from None


def _line_of(text: str, message: str) -> int | None:
    """The line of the key an error names ('milestones[1].due: ...' -> the `due =` of the second
    [[milestones]]), so the person fixing the file need not count tables."""
    found = re.match(r"(\w+)(?:\[(\d+)\])?(?:\.(\w+))?", message.split(":", 1)[0].strip())
    if not found:
        return None
    section, index, name = found.groups()
    lines = text.splitlines()
    start = 0
    if index is not None or name:
        header = (rf"^\s*\[\[\s*{section}\s*\]\]" if index is not None else rf"^\s*\[\s*{section}\s*\]")
        starts = [i for i, line in enumerate(lines) if re.match(header, line)]
        wanted = int(index or 0)
        if len(starts) <= wanted:
            return None
        start = starts[wanted]
        if not name:
            return start + 1
    key = name or section
    for i in range(start, len(lines)):
        if re.match(rf"^\s*{key}\s*=", lines[i]):
            return i + 1
        if i > start and re.match(r"^\s*\[", lines[i]) and (index is not None or name):
            break
    return start + 1 if (index is not None or name) else None
