"""Replay recorded histories with today's workflow code: a change that would break live incidents fails CI.

Histories are recorded by `python -m tests.histories.record`; keep old ones when adding new ones.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.helpers import HISTORY_DIR
from worker import WORKFLOW_RUNNER, share_workflow_code
from workflows.handover import HandoverWorkflow
from workflows.incident import IncidentWorkflow
from workflows.report import ReportWorkflow

HISTORIES = sorted(HISTORY_DIR.glob("*.json"))


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path):
    history = WorkflowHistory.from_json(f"incident-{path.stem}", path.read_text(encoding="utf-8"))
    share_workflow_code()  # replayed in the sandbox exactly as the worker runs it (worker.py)
    replayer = Replayer(workflows=[IncidentWorkflow, ReportWorkflow, HandoverWorkflow], workflow_runner=WORKFLOW_RUNNER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


def test_there_are_histories_to_replay():
    assert {p.stem for p in HISTORIES} >= {"full_life", "refused_actions", "report_weekly", "handover"}


def test_the_one_marker_stands_for_the_patches_listed_before_it_and_no_later_one():
    """A run with "one-marker" answers True for the folded patches without asking; a patch added after it must
    be asked for itself (a run with the one marker may be older than it), so it must not be in FOLDED."""
    from workflows.incident import FOLDED, ONE_MARKER, PATCHES

    order = list(PATCHES)
    assert FOLDED == set(order[:order.index(ONE_MARKER)])


def test_the_local_first_marker_stands_for_every_patch_listed_before_it():
    """The next fold: a run with "local-first-try" records no other marker, so it must answer True for every
    patch before it, the one marker included, and the patches list must name it last (a later patch is asked)."""
    from workflows.incident import FOLDED_LOCAL_FIRST, LOCAL_FIRST, PATCHES

    order = list(PATCHES)
    assert FOLDED_LOCAL_FIRST == set(order[:order.index(LOCAL_FIRST)])


def test_a_patch_level_stands_for_every_patch_through_its_fold_and_no_later_one():
    """A run at a level asks for no patch in its set, so the set must be the patches listed up to the fold it
    stands for (a later patch is asked for itself), and the code that starts runs must carry the newest level."""
    from workflows.incident import AT_LEVEL, LOCAL_FIRST, PATCH_LEVEL, PATCHES

    order = list(PATCHES)
    assert AT_LEVEL == {1: set(order[:order.index(LOCAL_FIRST) + 1])}
    assert PATCH_LEVEL == max(AT_LEVEL)


def _at_level(history: dict, level: int) -> dict:
    """The history with `patch_level` in its start input, as a run started by code that carries the level."""
    payload = history["events"][0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    inp = json.loads(base64.b64decode(payload["data"]))
    payload["data"] = base64.b64encode(json.dumps({**inp, "patch_level": level}).encode()).decode()
    return history


@pytest.mark.parametrize("name", ["full_life-v7-first", "shared_duties-v7-first"])
async def test_a_run_at_the_patch_level_whose_first_task_an_older_worker_ran_replays(name: str):
    """A rolling upgrade: the new API starts a run at the patch level, a worker from before the level takes its
    first task and records the fold's marker (and the SDK its upsert). A worker with today's code that rebuilds
    that run must match the marker, not fail it as a command its code never gave."""
    from workflows.incident import PATCH_LEVEL

    recorded = json.loads((HISTORY_DIR / f"{name}.json").read_text(encoding="utf-8"))
    assert any(e.get("markerRecordedEventAttributes", {}).get("markerName") == "core_patch" for e in recorded["events"])
    history = WorkflowHistory.from_json(f"incident-{name}-at-level", _at_level(recorded, PATCH_LEVEL))
    share_workflow_code()
    replayer = Replayer(workflows=[IncidentWorkflow], workflow_runner=WORKFLOW_RUNNER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
