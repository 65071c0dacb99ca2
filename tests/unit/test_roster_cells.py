"""How a roster cell reads (as offices type it or Excel stores it), and the policy's handover rule."""

from __future__ import annotations

import tomllib
from datetime import datetime, time, timedelta

import pytest

from desk.policy import PolicyError, load_policy, policy_from_dict
from desk.presets import __file__ as presets_init
from desk.roster import _date, _minutes, column_letter


def test_times_and_dates_read_as_offices_write_them():
    assert [_minutes(v) for v in ("8:30", "08:30", "17:30:00", "24:00", "8：30", time(9, 15), 0.5,
                                  timedelta(hours=20), datetime(1899, 12, 30, 7, 0))] == [
        510, 510, 1050, 1440, 510, 555, 720, 1200, 420]
    assert [_minutes(v) for v in ("9点", "25:00", "24:30", "8:75", "")] == [None] * 5
    assert {_date(v) for v in ("2026-12-01", "2026/12/1", "2026.12.01", "2026年12月1日")} == {
        datetime(2026, 12, 1).date()}
    assert [column_letter(i) for i in (0, 3, 25, 26)] == ["A", "D", "Z", "AA"]


def test_the_handover_rule_is_policy_data_with_a_30_minute_default():
    assert load_policy("bazhong").handover.confirm_within_seconds == 30 * 60
    with open(presets_init.replace("__init__.py", "drill.toml"), "rb") as f:
        drill = tomllib.load(f)
    quick = policy_from_dict({**drill, "handover": {"confirm_within": "2m", "escalate_to": ["supervisor", "duty-lead"]}})
    assert (quick.handover.confirm_within_seconds, quick.handover.escalate_to) == (120, ["supervisor", "duty-lead"])
    with pytest.raises(PolicyError, match="handover.confirm_within"):
        policy_from_dict({**drill, "handover": {"confirm_within": "soon"}})
