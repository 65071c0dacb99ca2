"""Which notification tags the policy sends to have no channel at all: a message to them reaches no one.

The default install has no ``DESK_NOTIFY_CONFIG`` and no channel added on the admin pages: every reminder
and escalation is logged as "no channel".
That must not look like messages that went out, so the pages (to supervisors and admins) and
``opinion-desk up`` say it while it is true.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from desk.clocks import resolve_tags
from desk.policy import Policy

log = logging.getLogger("desk.coverage")


def configured_tags(path: Path | None) -> set[str]:
    """Every tag some channel of the apprise config answers to (empty: no config, or one that cannot be read;
    the worker refuses a broken one at its start, naming the line)."""
    if path is None or not Path(path).is_file():
        return set()
    import apprise

    config = apprise.AppriseConfig()
    if not config.add(str(Path(path).resolve())):
        return set()
    tags: set[str] = set()
    for server in apprise.Apprise(config):
        tags |= set(server.tags)
    return tags


def policy_tags(policies: Iterable[Policy], party_codes: Iterable[str]) -> list[str]:
    """Every tag the policies' ladders send to, for these parties, in a stable order."""
    codes = sorted(set(party_codes))
    found: list[str] = []
    for policy in policies:
        templates = [*policy.escalation.remind, *policy.escalation.on_breach]
        for code in codes:
            for tag in resolve_tags(templates, code):
                if tag not in found:
                    found.append(tag)
    return found


def uncovered_tags(policies: Iterable[Policy], party_codes: Iterable[str], path: Path | None,
                   stored: Iterable[str] = ()) -> list[str]:
    """The tags the policies send to that no channel answers to: none of the config at ``path``, none of the
    ``stored`` tags (the channels added on the admin pages, desk.channels.stored_tags)."""
    configured = configured_tags(path) | set(stored)
    return [tag for tag in policy_tags(policies, party_codes) if tag not in configured]
