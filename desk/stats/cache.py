"""The assessment kept in memory: the last reports of this process, each with the stamp it was made under.

A year's assessment groups some 40,000 milestones and sorts their durations: 100–300 ms however the rows
are laid out (bench/board.py measured the join, a denormalised covering index and the bare scan). A past
period rarely changes, so a report is answered again from memory while its stamp still matches.

The stamp (``stamp``) is what the figures depend on, read cheaply from SQL, plus this process's generation:

- every recorded event raises ``Incident.version`` (the worker writes from another process), and a new or
  removed incident changes the count and the highest id;
- a pending milestone (or a supporting party's acknowledgement, or a task) passing its deadline changes the
  past-due count, with no write at all;
- party names are shown, so a rename changes the stamp too;
- a write in this process that raises no version (a repair, a correction) is made known explicitly:
  whoever writes incidents or milestones calls :func:`invalidate` after committing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime

from sqlmodel import Session

from desk.stats.periods import Period
from desk.stats.queries import stamp_sql

CACHE_SIZE = 32
_cache: OrderedDict[tuple, tuple[tuple, dict]] = OrderedDict()
_cache_lock = threading.Lock()
_generation = 0  # raised by invalidate(): a report made before it never matches a stamp taken after it


def invalidate() -> None:
    """Forget every remembered report: call after committing a write of incidents or milestones."""
    global _generation
    with _cache_lock:
        _generation += 1
        _cache.clear()


def clear_cache() -> None:
    """Forget every remembered report (the benchmark times the assessment without its memory)."""
    with _cache_lock:
        _cache.clear()


def stamp(session: Session, period: Period, party: str | None, now: datetime, names: dict) -> tuple:
    """What a report of the period depends on, now (see the module's docstring)."""
    generation = _generation  # read first: a write committed while the stamp is read makes it older, not newer
    incidents_q, *past_due_qs = stamp_sql(period, party, now)
    return (generation, tuple(session.execute(incidents_q).one()),
            tuple(session.execute(q).scalar_one() for q in past_due_qs), tuple(sorted(names.items())))


def recall(key: tuple, current: tuple) -> dict | None:
    """The report remembered under ``key`` if it was made under the ``current`` stamp."""
    with _cache_lock:
        hit = _cache.get(key)
        if hit is None or hit[0] != current:
            return None
        _cache.move_to_end(key)
        return hit[1]


def remember(key: tuple, made_under: tuple, report: dict) -> None:
    with _cache_lock:
        _cache[key] = (made_under, report)
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
