"""Assessment statistics (政务公开考核) over the SQL read models: pure query functions over a Session.

Every figure is defined once, in ``DEFINITIONS`` (the page, the JSON and the CSV all show them),
and computed only here. Rules that hold for every figure:

- drills (演练) never count;
- a period is a range of calendar days in Asia/Shanghai, both ends included, applied to
  ``detected_at`` (when the clocks started), so an incident belongs to the month it surfaced in;
- the assessed milestones are acknowledgement, first authoritative release and press conference,
  each party on its own clocks (a supporting party's acknowledgement), and tasks as a line of their own;
  the rolling follow-up clock (动态发布) is not scored (only its latest window is kept);
- a pending milestone whose deadline has passed counts as overdue, even if the breach has not been
  recorded yet;
- medians and P90 interpolate linearly between ranks, like Excel's MEDIAN and PERCENTILE.INC, so a
  unit can recompute its own figures from the detail export.

One module per job:

- ``definitions``: the assessed milestones, outcome buckets, labels and the definitions text;
- ``periods``: the period (Beijing calendar days) and its months;
- ``figures``: counts, rates, percentiles and the release-time bins;
- ``queries``: the SQL, with the pieces that differ between SQLite and PostgreSQL;
- ``cache``: the reports kept in memory, their stamp, and ``invalidate()`` for writers in this process;
- ``report``: the assessment report itself (``assessment()``);
- ``export``: the CSV (summary and detail rows).

Beijing-time formatting shared with the board lives in ``desk/timefmt.py``.
"""

from desk.stats.cache import CACHE_SIZE, clear_cache, invalidate
from desk.stats.definitions import (
    ASSESSED,
    BUCKETS,
    CATEGORY_LABELS,
    DEFINITIONS,
    LEVEL_LABELS,
    LINES,
    MILESTONE_LABELS,
    MILESTONE_LABELS_EN,
    RELEASE_BINS,
    STATE_LABELS,
    TASK,
    Definition,
    definitions,
    milestone_label,
)
from desk.stats.export import (
    BOM,
    DETAIL_HEADER,
    FORMULA_START,
    SUMMARY_HEADER,
    detail_rows,
    safe_cell,
    summary_rows,
    to_csv,
)
from desk.stats.figures import Figures, percentile, ratio, release_distribution
from desk.stats.periods import Period
from desk.stats.queries import (
    assessment_statements,
    bucket_of,
    detail_sql,
    durations_sql,
    incident_counts_sql,
    month_of,
    outcome_counts_sql,
    seconds_between,
    stamp_sql,
)
from desk.stats.report import assessment, compute_assessment, rank_parties
from desk.timefmt import SHANGHAI, naive_utc

__all__ = [
    "ASSESSED", "BOM", "BUCKETS", "CACHE_SIZE", "CATEGORY_LABELS", "DEFINITIONS", "DETAIL_HEADER", "FORMULA_START",
    "LEVEL_LABELS", "LINES", "MILESTONE_LABELS", "MILESTONE_LABELS_EN", "RELEASE_BINS", "SHANGHAI", "STATE_LABELS",
    "SUMMARY_HEADER", "TASK", "Definition", "Figures", "Period", "assessment", "assessment_statements", "bucket_of",
    "clear_cache", "compute_assessment", "definitions", "detail_rows", "detail_sql", "durations_sql",
    "incident_counts_sql", "invalidate", "milestone_label", "month_of", "naive_utc", "outcome_counts_sql",
    "percentile", "rank_parties", "ratio", "release_distribution", "safe_cell", "seconds_between", "stamp_sql", "summary_rows",
    "to_csv",
]
