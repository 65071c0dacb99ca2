"""The numbers: outcome counts, the two rates, percentiles (Excel PERCENTILE.INC) and the release bins."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from desk.stats.definitions import BUCKETS, RELEASE_BINS


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (Excel PERCENTILE.INC; p=0.5 is the median)."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * p
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


@dataclass
class Figures:
    """Counts of assessed milestones by outcome, and the two rates derived from them."""

    incidents: int = 0
    met: int = 0
    met_late: int = 0
    overdue: int = 0
    waived: int = 0
    pending: int = 0
    durations: list[float] = field(default_factory=list)  # seconds from detection to meeting, met ones

    def add(self, bucket: str, count: int) -> None:
        setattr(self, bucket, getattr(self, bucket) + count)
        self.incidents += count

    def absorb(self, other: Figures) -> None:
        for bucket in BUCKETS:
            self.add(bucket, getattr(other, bucket))

    @property
    def due(self) -> int:
        return self.met + self.met_late + self.overdue

    @property
    def on_time_rate(self) -> float | None:
        return ratio(self.met, self.due)

    @property
    def response_rate(self) -> float | None:
        return ratio(self.met + self.met_late, self.due)

    def as_dict(self, with_durations: bool = True) -> dict:
        out = {"incidents": self.incidents, "met": self.met, "met_late": self.met_late, "overdue": self.overdue,
               "waived": self.waived, "pending": self.pending, "due": self.due,
               "on_time_rate": self.on_time_rate, "response_rate": self.response_rate}
        if with_durations:
            values = sorted(self.durations)
            out["median_seconds"] = _round(percentile(values, 0.5))
            out["p90_seconds"] = _round(percentile(values, 0.9))
            out["timed"] = len(values)
        return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def release_distribution(hours: Iterable[float]) -> list[dict]:
    counts = [0] * len(RELEASE_BINS)
    for h in hours:
        for i, (upper, _label) in enumerate(RELEASE_BINS):
            if upper is None or h <= upper:
                counts[i] += 1
                break
    return [{"label": label, "upper_hours": upper, "count": n} for (upper, label), n in zip(RELEASE_BINS, counts, strict=True)]
