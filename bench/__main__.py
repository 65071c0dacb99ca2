"""`python -m bench NAME [options]`: run one benchmark (each prints its figures and ratios)."""

from __future__ import annotations

import asyncio
import importlib
import sys

# name -> (module, what it measures); modules are imported only when run
BENCHMARKS = {
    "intake": ("bench.intake", "incidents opened per second over HTTP vs bare start_workflow; p95 at half rate"),
    "clocks": ("bench.clocks", "reminder/escalation lateness with N open incidents; worker memory per incident"),
    "actions": ("bench.actions", "acknowledge/release round trip to the committed SQL row at N open incidents"),
    "longopen": ("bench.longopen", "an incident overdue for months: one wake-up's cost, continue-as-new, replay time"),
    "board": ("bench.board", "board, assessment and year CSV on 100k incidents / 1M events vs the same SQL bare"),
    "reports": ("bench.reports", "review of 1,000 timeline events and the monthly 通报 over 100k incidents, .docx/PDF"),
    "cached": ("bench.cached", "worker memory per cached incident in one process (RSS, tracemalloc by file), stub activities"),
    "pauses": ("bench.pauses", "the worker's full garbage collections while incidents are opened and evicted (gc.freeze)"),
    "floor": ("bench.floor", "CPU per start from a bare start to the desk's shape, step by step, same dev server"),
    "search": ("bench.search", "Chinese search (2 and 6 characters) on 100k incidents, SQLite and PostgreSQL, vs bare SQL"),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in BENCHMARKS:
        print(__doc__.strip())
        for name, (_, what) in BENCHMARKS.items():
            print(f"  {name:<10} {what}")
        print("Options: python -m bench NAME --help")
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(BENCHMARKS[argv[0]][0])
    result = module.main(argv[1:])
    if asyncio.iscoroutine(result):
        asyncio.run(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
