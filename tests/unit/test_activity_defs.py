"""The workflow calls activities through the signatures in activities/defs.py; the worker runs the
implementations. If the two drifted apart, a live incident's messages and timeline would stop."""

from __future__ import annotations

import inspect
import json
import typing

from temporalio import activity

from activities import defs
from activities.notify import Notifier
from activities.records import Recorder
from activities.reports import Reporter
from tests.helpers import HISTORY_DIR

IMPLEMENTATIONS = [Notifier.deliver, Recorder.record_batch, Notifier.send_notification, Recorder.record_event,
                   Reporter.make_report, Reporter.send_report,
                   Recorder.record_handover]
SIGNATURES = [defs.deliver, defs.record_batch, defs.send_notification, defs.record_event, defs.record_handover,
              defs.make_report, defs.send_report]


def _name(fn) -> str:
    return activity._Definition.must_from_callable(fn).name


def _types(fn) -> list:
    hints = typing.get_type_hints(fn)
    return [hints[p] for p in inspect.signature(fn).parameters if p != "self"] + [hints["return"]]


def test_each_signature_is_an_implementation_under_the_same_name_with_the_same_types():
    implemented = {_name(fn): fn for fn in IMPLEMENTATIONS}
    assert sorted(_name(fn) for fn in SIGNATURES) == sorted(implemented)
    for signature in SIGNATURES:
        implementation = implemented[_name(signature)]
        assert _types(signature) == _types(implementation), _name(signature)
        assert inspect.iscoroutinefunction(signature) == inspect.iscoroutinefunction(implementation)


def _scheduled_activity_names(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["activityType"]["name"]} if isinstance(node.get("activityType"), dict) else set()
        return found.union(*(_scheduled_activity_names(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_scheduled_activity_names(v) for v in node))
    return set()


def test_every_activity_a_recorded_history_scheduled_has_a_signature():
    scheduled = set().union(*(_scheduled_activity_names(json.loads(p.read_text())) for p in HISTORY_DIR.glob("*.json")))
    assert scheduled and scheduled <= {_name(fn) for fn in SIGNATURES}
