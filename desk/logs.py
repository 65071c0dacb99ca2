"""Structured logs: one JSON object per line, with the incident's human id on every line about one.

The id comes from, in order: ``extra={"incident": human_id}`` at the call site; the incident the
current request or activity is working on (:func:`working_on`); the workflow id in the context the
Temporal SDK attaches to workflow and activity log records; an id in the message itself (the access
log's ``/api/incidents/YQ-2026-000123/...``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from desk import ids

_current: ContextVar[str | None] = ContextVar("desk_incident", default=None)

# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName",
                                                                          "color_message"}  # uvicorn's ANSI copy


@contextmanager
def working_on(human_id: str | None) -> Iterator[None]:
    """Tag every log line in this block (this task or thread) with the incident."""
    token = _current.set(human_id)
    try:
        yield
    finally:
        _current.reset(token)


def incident_of(record: logging.LogRecord) -> str | None:
    explicit = getattr(record, "incident", None)
    if explicit:
        return str(explicit)
    current = _current.get()
    if current:
        return current
    for attr in ("temporal_workflow", "temporal_activity"):
        info = getattr(record, attr, None)
        if isinstance(info, dict):
            found = ids.HUMAN_ID.search(str(info.get("workflow_id", "")))
            if found:
                return found.group(0)
    found = ids.HUMAN_ID.search(record.getMessage())
    return found.group(0) if found else None


class IncidentFilter(logging.Filter):
    """Puts ``record.incident`` on every record that concerns an incident (attach it to the handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        incident = incident_of(record)
        if incident:
            record.incident = incident
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        incident = getattr(record, "incident", None) or incident_of(record)
        if incident:
            line["incident"] = incident
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a person at a terminal (DESK_LOG_JSON=false): the same facts, one readable line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        incident = getattr(record, "incident", None)
        return f"{text} [{incident}]" if incident and incident not in record.getMessage() else text


def setup_logging(json_lines: bool = True, level: int = logging.INFO) -> None:
    """Send every log record (the desk's, uvicorn's, Temporal's) to stderr, one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(IncidentFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin at every start
