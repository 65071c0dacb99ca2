"""Deadline arithmetic (desk.clocks) and policy loading (desk.policy): pure, no Temporal needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desk import clocks as clk
from desk.policy import PolicyError, load_policy, parse_duration, policy_from_dict

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
H = timedelta(hours=1)


def by_key(clocks):
    return {c.key: c for c in clocks}


def test_durations_take_seconds_to_days():
    assert parse_duration("48h") == 172800
    assert parse_duration("90s") == 90
    assert parse_duration("1h30m") == 5400
    assert parse_duration("2d") == 172800
    for bad in ("", "48", "h", "-1h", "0s", "1 week"):
        with pytest.raises(PolicyError):
            parse_duration(bad)


def test_bazhong_preset_matches_the_seed():
    policy = load_policy("bazhong")
    assert clk.deadlines(policy, "I", T0) == {
        "acknowledge": T0 + H, "first_release": T0 + 48 * H, "press_conference": T0 + 24 * H,
    }
    assert clk.deadlines(policy, "II", T0) == {"acknowledge": T0 + H, "first_release": T0 + 48 * H}
    assert policy.follow_up_every_seconds == 24 * 3600


def test_national_2016_is_stricter_for_grave_incidents():
    policy = load_policy("national-2016")
    assert clk.deadlines(policy, "II", T0)["first_release"] == T0 + 5 * H
    assert clk.deadlines(policy, "II", T0)["press_conference"] == T0 + 24 * H
    assert clk.deadlines(policy, "I", T0)["first_release"] == T0 + 5 * H
    assert clk.deadlines(policy, "III", T0) == {"acknowledge": T0 + H, "first_release": T0 + 48 * H}


def test_drill_preset_runs_in_minutes():
    policy = load_policy("drill")
    assert clk.deadlines(policy, "I", T0)["press_conference"] == T0 + timedelta(minutes=24)


def test_clocks_run_from_detected_at_not_from_opening():
    policy = load_policy("bazhong")
    detected = T0 - 40 * H  # surfaced 40 hours before anyone opened it
    clocks = by_key(clk.open_clocks(policy, "III", detected, now=T0))
    assert clocks["first_release"].due_at == detected + 48 * H
    rungs = clk.ladder(clocks["first_release"], policy, "bazhou", until=detected + 48 * H)
    # 50% (24h) and 75% (36h) were already past when the incident was opened: not sent late.
    assert [(r.kind, r.at - detected) for r in rungs] == [("reminder", 47 * H), ("breach", 48 * H)]


def test_ladder_rungs_and_tags():
    policy = load_policy("bazhong")
    clock = by_key(clk.open_clocks(policy, "I", T0, T0))["press_conference"]
    rungs = clk.ladder(clock, policy, "bazhou", until=T0 + 28 * H)
    assert [(r.kind, r.at - T0) for r in rungs] == [
        ("reminder", 12 * H), ("reminder", 18 * H), ("reminder", 23 * H), ("breach", 24 * H),
        ("repeat", 26 * H), ("repeat", 28 * H),
    ]
    assert rungs[0].tags == ("bazhou",)
    assert rungs[3].tags == ("bazhou", "bazhou-leaders", "supervisor")
    assert len({r.key for r in rungs}) == len(rungs)


def test_minus_one_hour_reminder_on_a_30_minute_window_is_skipped():
    policy = policy_from_dict({
        "name": "short",
        "milestones": [{"key": "acknowledge", "due": "30m"}],
        "escalation": {"reminders": ["50%", "-1h"]},
    })
    clock = clk.open_clocks(policy, "IV", T0, T0)[0]
    rungs = clk.ladder(clock, policy, "bazhou", until=clock.due_at)
    assert [(r.kind, r.at - T0) for r in rungs] == [("reminder", timedelta(minutes=15)), ("breach", timedelta(minutes=30))]


def test_reassignment_keeps_clocks_only_the_tags_follow_the_new_party():
    policy = load_policy("bazhong")
    clock = by_key(clk.open_clocks(policy, "III", T0, T0))["first_release"]
    before = clk.ladder(clock, policy, "bazhou", until=T0 + 48 * H)
    after = clk.ladder(clock, policy, "enyang", until=T0 + 48 * H)
    assert [r.at for r in before] == [r.at for r in after]
    assert after[-1].tags == ("enyang", "enyang-leaders", "supervisor")


def test_level_change_recomputes_pending_keeps_met_and_breaches_at_once():
    policy = load_policy("bazhong")
    clocks = clk.open_clocks(policy, "IV", T0, T0)
    clocks = [clk.meet(c, T0 + 0.5 * H) if c.key == "acknowledge" else c for c in clocks]
    now = T0 + 30 * H
    changed, added, dropped = clk.change_level(clocks, policy, "I", T0, now)
    assert added == ["press_conference"] and dropped == []
    states = by_key(changed)
    assert states["acknowledge"].state == clk.MET and states["acknowledge"].met_at == T0 + 0.5 * H
    press = states["press_conference"]
    assert press.due_at == T0 + 24 * H  # counted from detected_at, already past
    due = [r for r in clk.due_rungs(changed, policy, "bazhou", now) if r.milestone == "press_conference"]
    # only the breach: reminders and repeats that were past before the change are not sent late
    assert [r.kind for r in due] == ["breach"]
    assert due[0].tags == ("bazhou", "bazhou-leaders", "supervisor")


def test_level_change_under_national_moves_release_deadline():
    policy = load_policy("national-2016")
    clocks = clk.open_clocks(policy, "III", T0, T0)
    changed, added, _ = clk.change_level(clocks, policy, "II", T0, T0 + H)
    release = by_key(changed)["first_release"]
    assert release.due_at == T0 + 5 * H and release.generation == 2
    assert added == ["press_conference"]


def test_downgrade_drops_a_press_conference_not_yet_held():
    policy = load_policy("bazhong")
    clocks = clk.open_clocks(policy, "I", T0, T0)
    changed, _, dropped = clk.change_level(clocks, policy, "III", T0, T0 + H)
    assert dropped == ["press_conference"]
    assert "press_conference" not in by_key(changed)


def test_met_late_when_release_is_after_the_deadline():
    policy = load_policy("bazhong")
    clock = by_key(clk.open_clocks(policy, "III", T0, T0))["first_release"]
    assert clk.meet(clock, T0 + 47 * H).state == clk.MET
    assert clk.meet(clock, T0 + 49 * H).state == clk.MET_LATE


def test_closing_is_blocked_by_open_required_milestones_and_overdue_follow_up():
    policy = load_policy("bazhong")
    clocks = [clk.meet(c, T0 + H / 2) for c in clk.open_clocks(policy, "III", T0, T0)]
    assert clk.blocking_close(clocks, T0 + H) == []
    follow = clk.follow_up_clock(policy, T0 + H / 2, T0 + H, generation=1)
    assert clk.blocking_close(clocks + [follow], T0 + 2 * H) == []
    assert clk.blocking_close(clocks + [follow], T0 + 25 * H) == [follow]


def test_next_wake_is_the_earliest_unsent_rung():
    policy = load_policy("bazhong")
    clocks = clk.open_clocks(policy, "I", T0, T0)
    assert clk.next_rung_at(clocks, policy, "bazhou", T0) == T0 + H / 2  # acknowledge at 50%
    sent = [c if c.key != "acknowledge" else
            clk.MilestoneClock(**{**c.__dict__, "sent_rungs": [r.key for r in clk.ladder(c, policy, "x", T0 + H)]})
            for c in clocks]
    assert clk.next_rung_at(sent, policy, "bazhou", T0 + H) == T0 + 3 * H  # acknowledge repeat, 2 h after breach


@pytest.mark.parametrize("doc, key", [
    ({"name": "x", "milestones": [{"key": "lunch", "due": "1h"}]}, "milestones[0].key"),
    ({"name": "x", "milestones": [{"key": "acknowledge", "due": "soon"}]}, "milestones[0].due"),
    ({"name": "x", "milestones": [{"key": "first_release", "due": {"I": "5h"}}]}, "milestones[0].due"),
    ({"name": "x", "milestones": [{"key": "acknowledge", "due": "1h", "levels": ["V"]}]}, "milestones[0].levels"),
    ({"name": "x", "milestones": [{"key": "acknowledge", "due": "1h"}], "escalation": {"reminders": ["150%"]}},
     "escalation.reminders[0]"),
    ({"name": "x", "milestones": [{"key": "acknowledge", "due": "1h"}], "escalation": {"on_breach": ["Boss!"]}},
     "escalation.on_breach[0]"),
    ({"name": "x", "milestones": [{"key": "acknowledge", "due": "1h"}], "colour": "red"}, "colour"),
    ({"milestones": [{"key": "acknowledge", "due": "1h"}]}, "name"),
])
def test_bad_policies_name_the_key(doc, key):
    with pytest.raises(PolicyError) as err:
        policy_from_dict(doc)
    assert str(err.value).startswith(key)


def test_policy_file_errors_name_the_file(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('name = "x"\n[[milestones]]\nkey = "acknowledge"\ndue = "1 fortnight"\n', encoding="utf-8")
    with pytest.raises(PolicyError, match=r"p\.toml: milestones\[0\]\.due"):
        load_policy(path)
    path.write_text("name = \n", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(path)


def test_next_wake_looks_past_repeats_already_sent_ahead_of_now():
    """A worker catching up sends repeats due "after" its task's start time; the next one must still get a timer."""
    policy = load_policy("bazhong")
    clock = clk.open_clocks(policy, "IV", T0, T0)[0]  # acknowledge: breach at 1 h, repeats every 2 h
    ahead = [r.key for r in clk.ladder(clock, policy, "x", T0 + 7 * H)]  # breach + repeats at 3, 5, 7 h sent
    sent = clk.MilestoneClock(**{**clock.__dict__, "sent_rungs": ahead})
    now = T0 + 4 * H  # stale: the task started before the last repeats went out
    assert clk.next_rung_at([sent], policy, "x", now) == T0 + 9 * H
    assert clk.next_rung_at([sent], policy, "x", now, beyond_horizon=False) is None  # the old bug: no timer at all
