"""The benchmarks still run end to end and print their figures (quick mode, tiny numbers).

No timing is asserted here: speed is measured by `python -m bench NAME` and recorded in
docs/performance.md, not judged by a test on a shared machine.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT

CASES = {
    "intake": (["--workers", "1"], ["bare start_workflow (baseline)", "open over HTTP, 1 worker(s)",
                                     "open p95 @", "CPU ms per bare workflow, started and run",
                                     "CPU per incident vs per bare workflow run, 1 worker(s)",
                                     "ditto vs the bare starts alone",
                                     "worker memory per cached incident, 1 worker(s)"]),
    "floor": ([], ["CPU per start: 1 bare start, returns at once", "CPU per start: 5 + a local activity in the first",
                   "CPU per start: 7 the desk, opened over HTTP"]),
    "clocks": (["--workers", "1"], ["lateness p99 at", "bare timer",
                                     "worker memory per open incident, 1 worker(s)"]),
    "actions": ([], ["acknowledge p95, 1 worker(s)", "release p95, 1 worker(s)", "bare update",
                     "rows confirmed in SQL, 1 worker(s)", "CPU ms per acknowledgement, alone, 4 in flight",
                     "ditto, the worker's part"]),
    "cached": ([], ["incident, worker's sandbox runner (as deployed)", "incident, worker's sandbox runner, before",
                    "bare waiting workflow, the SDK's default sandbox",
                    "the sandbox's share (desk - unsandboxed)"]),
    "pauses": ([], ["time in full collections", "longest full collection (every thread stopped)",
                    "objects a full collection walks"]),
}


@pytest.mark.slow
@pytest.mark.sqlite_only  # each benchmark makes its own database, whichever the test pass is: run once, not twice
@pytest.mark.parametrize("name", list(CASES))
def test_benchmark_prints_its_figures(name):
    extra, figures = CASES[name]
    run = subprocess.run([sys.executable, "-m", "bench", name, "--quick", *extra], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert f"== {name}" in run.stdout
    for figure in figures:
        assert figure in run.stdout, run.stdout
    assert "rows confirmed in SQL" not in run.stdout or "PROBLEMS" not in run.stdout
