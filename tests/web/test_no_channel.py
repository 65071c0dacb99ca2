"""Messages that reach no one must not look like messages that went out: a banner for supervisors and admins
while a tag the policy sends to has no channel, "N reached no one" in red on the board, and a warning from
`opinion-desk up`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from desk.coverage import uncovered_tags
from desk.db import session_scope
from desk.models import NotificationAttempt
from desk.policy import load_policy
from tests.helpers import add_incident


def test_the_tags_without_a_channel_are_those_of_the_policy_no_channel_answers_to(notify_config):
    policy = load_policy("bazhong")
    assert uncovered_tags([policy], ["bazhou", "enyang"], notify_config) == []
    assert uncovered_tags([policy], ["bazhou", "pingchang"], notify_config) == ["pingchang", "pingchang-leaders"]
    assert uncovered_tags([policy], ["bazhou"], None) == ["bazhou", "bazhou-leaders", "supervisor"]


async def test_supervisors_see_which_units_no_message_reaches_and_the_board_counts_it_red(web_desk):
    now = datetime.now(UTC)
    with session_scope(web_desk.database_url) as s:
        incident = add_incident(s, party="pingchang", level="III", status="open", detected_at=now - timedelta(hours=2),
                                next_due_at=now - timedelta(hours=1), overdue=True,
                                milestones={"acknowledge": "overdue"}, events=[("escalated", now - timedelta(hours=1))])
        s.add(NotificationAttempt(incident_id=incident.id, attempt_key="k/none/1", dedupe_key="k", kind="breach",
                                  tags="pingchang,pingchang-leaders,supervisor", channel_id="none", channel="",
                                  service="", attempt=1, status="no_channel", error="", at=now))
        s.commit()
        human_id = incident.human_id
    async with web_desk.client() as http:
        await web_desk.login(http, "super")
        page = (await http.get("/board")).text
        assert 'id="no-channel-banner"' in page
        banner = page.split('id="no-channel-banner"')[1].split("</p>")[0]
        assert "市公安局、市公安局领导" in banner and "另有" in banner
        assert not re.search(r"[a-z]{3,}", banner), banner  # unit names, never tag codes
        row = page.split(f'data-id="{human_id}"')[1].split("</tr>")[0]
        assert "1 次无人收到" in row and 'class="small bad"' in row
        assert (await http.get("/api/board")).json()["rows"][0]["unreached"] == 1
    async with web_desk.client() as http:
        await web_desk.login(http, "bazhou")  # a county's responder gets no operator banner
        assert 'id="no-channel-banner"' not in (await http.get("/incidents")).text
