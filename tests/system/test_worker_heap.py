"""The worker keeps what it loaded at start out of its garbage collections (worker.settle_heap).

A full collection walks every object the heap tracks and stops every thread of the worker meanwhile. With more
incidents open than the cache holds, one comes every few seconds (each evicted instance is cyclic garbage), so
the ~150,000 objects loaded at start would be walked again and again: ~0.6 s pauses at 10,000 open, a reminder
due during one waiting for it (`python -m bench pauses`, docs/performance.md)."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

from tests.helpers import ROOT, Worker, worker_env


def test_settling_leaves_everything_loaded_at_start_out_of_every_later_full_collection():
    code = ("import gc, worker\n"
            "before = len(gc.get_objects())\n"
            "frozen = worker.settle_heap()\n"
            "print(before, frozen, len(gc.get_objects()))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    before, frozen, walked = map(int, out.stdout.split())
    assert before > 100_000  # the SDK, SQLAlchemy, pydantic, apprise, the desk
    assert frozen >= 0.9 * before  # all of it still alive, now out of the collector's walks
    assert walked < 1_000  # what a full collection walks now: only what comes after


async def test_the_worker_process_settles_its_heap_before_it_polls(temporal_env, tmp_path, database_url):
    (tmp_path / "notify.yml").write_text("urls:\n  - json://127.0.0.1:9/:\n      tag: bazhou\n", encoding="utf-8")
    address = temporal_env.client.service_client.config.target_host
    worker = Worker(worker_env(tmp_path, address, f"heap-{uuid.uuid4().hex[:8]}", database_url), tmp_path / "worker.log")
    worker.start()
    try:
        await worker.ready()
    finally:
        worker.stop()
    line = next(ln for ln in worker.log.read_text(errors="replace").splitlines() if "polling task queue" in ln)
    frozen = re.search(r"; (\d+) objects loaded at start left out of garbage collection", line)
    assert frozen is not None, line
    assert int(frozen.group(1)) > 100_000
