"""The shapes of the desk's ids and keys, built and read in one place.

Every one of them is stored (SQL rows, workflow ids, workflow histories, the delivery ledger), so a format
never changes: a new shape would stop old rows from matching and old histories from replaying.
Deterministic and free of I/O: the workflow imports it (passed through).

- human id: ``YQ-2026-000123`` (year in Beijing time, the row's number);
- workflow id: ``incident-YQ-2026-000123-3fa9c1`` (a random tail keeps ids unique even if the database is
  ever reset while Temporal keeps its history);
- rung key: ``acknowledge/g1/reminder50%``, ``first_release/g2/breach``, ``follow_up/g3/repeat-4``
  (milestone, generation of its deadline, the rung), unique within an incident; a supporting party's
  acknowledgement is the milestone ``support-<n>``, a task's ``task-<n>`` (``support-2/g1/breach``);
- dedupe key: ``<workflow id>/<rung key>`` names one message of one incident in the delivery ledger; a
  channel-failure alert about a rung is ``<rung key>/channel-failure``; one attempt to one channel is
  ``<dedupe key>/<channel id>/<try>``;
- timeline event key: names the event, so writing it twice is one row: ``<workflow id>/<seq>`` (the API's
  "opened", and every event of runs from before "durable-delivery"), ``<workflow id>/opened`` (a run that
  writes "opened" itself), ``<workflow id>/u/<update id>`` (a human action), ``<workflow id>/r/<rung key>``
  (a rung sent, or a channel-failure alert), ``…/r/<rung key>/recovered-<try>``, ``…/r/<rung key>/cancelled``.
"""

from __future__ import annotations

import hashlib
import re

from temporalio.common import SearchAttributeKey

# --- incidents ----------------------------------------------------------------------------------------

HUMAN_ID = re.compile(r"\bYQ-\d{4}-\d{6,}\b")  # as found in text (a log line, a path)
_WORKFLOW_PREFIX = "incident-"


def human_id(year: int, number: int) -> str:
    return f"YQ-{year}-{number:06d}"


def workflow_id(human_id: str, suffix: str) -> str:
    return f"{_WORKFLOW_PREFIX}{human_id}-{suffix}"


def human_id_of(workflow_id: str) -> str:
    """The human id inside a workflow id (the part between ``incident-`` and the random tail)."""
    return workflow_id.removeprefix(_WORKFLOW_PREFIX).rsplit("-", 1)[0]


# Search attributes of incident workflows: the responsible party and the level (kept current by the workflow).
PARTY_ATTR = SearchAttributeKey.for_keyword("DeskParty")
LEVEL_ATTR = SearchAttributeKey.for_keyword("DeskLevel")
SEARCH_ATTRIBUTES = (PARTY_ATTR, LEVEL_ATTR)


def update_id(name: str, *, workflow_id: str, user_id: object, idempotency_key: str) -> str:
    """The update id of a human action sent with an ``Idempotency-Key`` (scoped to the user and the incident):
    a retried request is the same update."""
    scope = f"{workflow_id}|{user_id}|{name}|{idempotency_key}"
    return f"{name}-{hashlib.sha256(scope.encode()).hexdigest()[:32]}"


def attachment_key(seed: str, index: int) -> str:
    """The key (in its URL) of the ``index``-th file of one upload. ``seed``: the request's scoped
    ``Idempotency-Key`` (a retried upload names the same files) or a random one."""
    return hashlib.sha256(f"attachment|{seed}|{index}".encode()).hexdigest()[:16]


# --- rungs and messages -------------------------------------------------------------------------------

RUNG_KEY = re.compile(r"^(?P<milestone>[a-z][a-z0-9_-]*)/g(?P<generation>\d+)/(?P<rung>[^/]+)$")
REPEAT = re.compile(r"^repeat-(\d+)$")
NO_CHANNEL_ID = "none"  # the attempt log's channel id when no channel was configured for the tags
SHA256 = re.compile(r"^[0-9a-f]{64}$")  # an attachment's content address


def supporting_clock_key(n: int) -> str:
    """The clock of the n-th supporting party (配合单位) of an incident: its own acknowledgement. Numbered, not
    named by the party's code, so keys stay short whatever an admin calls a party."""
    return f"support-{n}"


def task_clock_key(n: int) -> str:
    """The clock of an incident's n-th task (督办事项)."""
    return f"task-{n}"


def party_notice_key(clock_key: str) -> str:
    """The 【新交办】 message to a supporting party, or to a task's party, when given it: owed while its clock is open."""
    return f"{clock_key}/assigned"


def clock_of_notice(rung_key: str) -> str:
    """The clock a party notice belongs to (``support-2/assigned`` -> ``support-2``)."""
    return rung_key.split("/", 1)[0]


def rung_prefix(milestone: str, generation: int) -> str:
    """What every rung key of one deadline (a milestone's generation) starts with, ``/`` included."""
    return f"{milestone}/g{generation}/"


def rung_key(milestone: str, generation: int, rung: str) -> str:
    """``rung``: ``reminder<spec>``, ``breach`` or ``repeat-<n>``."""
    return f"{rung_prefix(milestone, generation)}{rung}"


def repeat_rung(n: int) -> str:
    return f"repeat-{n}"


def repeat_number(rung_key: str) -> int:
    return int(rung_key.rsplit("-", 1)[1])


def channel_failure_key(rung_key: str) -> str:
    """The alert to the supervisor about channels that keep failing on this rung."""
    return f"{rung_key}/channel-failure"


ASSIGNED = "assigned/"


def assignment_key(party_code: str, n: int) -> str:
    """The n-th 【新交办】 message of an incident (1 at opening, then one per reassignment), to this party."""
    return f"{ASSIGNED}{n}/{party_code}"


def urge_key(n: int) -> str:
    """The n-th 督办 of an incident."""
    return f"urge/{n}"


def dedupe_key(workflow_id: str, rung_key: str) -> str:
    return f"{workflow_id}/{rung_key}"


def rung_key_of(workflow_id: str, dedupe_key: str) -> str | None:
    """The rung key of one of this workflow's dedupe keys; None for another workflow's."""
    prefix = f"{workflow_id}/"
    return dedupe_key.removeprefix(prefix) if dedupe_key.startswith(prefix) else None


def rung_in(dedupe_key: str) -> str:
    """The rung part of a dedupe key, for logs (a workflow id has no ``/``)."""
    return dedupe_key.split("/", 1)[-1]


def attempt_key(dedupe_key: str, channel_id: str, attempt: int) -> str:
    return f"{dedupe_key}/{channel_id}/{attempt}"


# --- timeline events ----------------------------------------------------------------------------------


def seq_event_key(workflow_id: str, seq: int) -> str:
    return f"{workflow_id}/{seq}"


def opened_event_key(workflow_id: str) -> str:
    return f"{workflow_id}/opened"


def update_event_key(workflow_id: str, update_id: str) -> str:
    return f"{workflow_id}/u/{update_id}"


def rung_event_key(workflow_id: str, rung_key: str) -> str:
    return f"{workflow_id}/r/{rung_key}"


def recovered_event_key(workflow_id: str, rung_key: str, attempt: int) -> str:
    return f"{rung_event_key(workflow_id, rung_key)}/recovered-{attempt}"


def cancelled_event_key(workflow_id: str, rung_key: str) -> str:
    return f"{rung_event_key(workflow_id, rung_key)}/cancelled"


def merged_from_event_key(workflow_id: str, merged_human_id: str) -> str:
    """The survivor's "merged from" event: one per incident merged into it."""
    return f"{workflow_id}/merged-from/{merged_human_id}"
