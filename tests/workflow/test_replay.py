"""Replay recorded histories with today's workflow code: a change that would break live incidents fails CI.

Histories are recorded by `python -m tests.histories.record`; keep old ones when adding new ones.
"""

from __future__ import annotations

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
