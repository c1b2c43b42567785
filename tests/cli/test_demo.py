"""`firefighter demo` plays a whole incident lifecycle as users would, on the embedded SQLite database
it uses when no PostgreSQL is configured (the README's main command; the rest of the suite runs on
PostgreSQL): exit 0, no contract violation, and the incidents it leaves in the database are the ones
the script meant, with issue 4's scenes: one update reminder on a sped-up clock, a corrected
timeline entry, a cost, and the stats chart saved as a real PNG. One run serves every check: the
demo takes 20 s of the suite's 10-minute budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.domain.incident import Milestone
from tests.cli.test_operator_commands import firefighter


async def test_the_demo_plays_the_whole_lifecycle_and_leaves_the_expected_incidents(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report.json"

    code, out = await firefighter("demo", "--report", str(report))

    assert code == 0, out
    assert "0 contract violations" in out
    assert "Alice types `/incident` in #general" in out
    assert "All quiet" in out
    data = json.loads(report.read_text())
    assert data["servers"]["slack"]["violations"] == []
    assert data["servers"]["slack"]["requests"] > 0
    assert any(c["name"] == "general" for c in data["state"]["slack"]["channels"])
    assert data["failure"] is None
    assert data["state"]["slack"]["user_errors"] == []
    assert data["servers"]["jira"]["violations"] == []
    incidents = data["state"]["incidents"]
    assert sorted(i["priority"] for i in incidents) == ["P1", "P1", "P4"]
    # Declared P2; Carol raised its priority in Jira (scene 1b).
    major = next(i for i in incidents if not i["private"] and i["channel_name"])
    by_priority = {i["priority"]: i for i in incidents if i is not major}
    assert major["status"] == "closed"
    assert major["private"] is False
    assert major["channel_name"].startswith("inc-")
    assert set(major["milestones"]) == {m.value for m in Milestone}
    assert all(major["milestones"].values()), major["milestones"]
    assert major["timeline_entries"] >= 5  # declared, two 📌, the 📣 update, statuses, closure

    private = by_priority["P1"]
    assert private["private"] is True
    assert private["channel_name"]
    channel = next(
        c for c in data["state"]["slack"]["channels"] if c["name"] == private["channel_name"]
    )
    assert channel["is_private"]
    announced = [
        m["text"]
        for c in data["state"]["slack"]["channels"]
        if c["name"] in {"incidents", "incidents-major"}
        for m in c["messages"]
    ]
    assert not any(f"#{private['id']}" in text for text in announced)

    minor = by_priority["P4"]
    assert minor["channel_name"] is None
    assert "tracked without a channel" in out

    actions = [step["action"] for step in data["transcript"]]
    assert any("Declare incident from message" in a for a in actions)
    assert "Priority: P2 → P1, by Carol Diaz in Jira" in out
    assert "no echo" in out and "(0 writes to PAY-1, 1 priority change on the timeline)" in out
    assert any("picks Closed anyway" in a for a in actions)
    assert "cannot be closed yet" in out
    assert "Communications lead" in out
    assert actions[-1] == "opens the FireFighter Home tab"
    assert "The incidents, as stored in the database" in out
    assert_issue_4_scenes(data, out, report)
    assert_postmortem_scenes(data, out, report)
    assert_pagerduty_scenes(data, out)


def _buttons(message: dict[str, Any]) -> list[str]:
    found = []
    for block in message.get("blocks") or []:
        for element in [block.get("accessory") or {}, *(block.get("elements") or [])]:
            if element.get("type") == "button":
                found.append(str(element.get("action_id")))
    return found


def assert_issue_4_scenes(data: dict[str, Any], out: str, report: Path) -> None:
    """A reminder on the sped-up clock, a timeline correction, a cost and the stats chart."""
    slack = data["state"]["slack"]
    major = next(i for i in data["state"]["incidents"] if i["id"] == 1)
    channel = next(c for c in slack["channels"] if c["name"] == major["channel_name"])

    # The sped-up clock brought exactly one update reminder, with its buttons; Alice snoozed it.
    reminders = [m for m in channel["messages"] if "reminder.snooze" in _buttons(m)]
    assert len(reminders) == 1, [m["text"] for m in reminders]
    assert "has had no update" in reminders[0]["text"]
    assert {"reminder.snooze", "reminder.mute"} <= set(_buttons(reminders[0]))
    assert "Reminders of #1 snoozed until" in out

    # Carol's update was corrected from the timeline's Edit menu and shows as edited.
    assert "(60% success). (edited)" in out
    assert "Cost added to #1: 12,000.00 EUR" in out

    # The stats count the cost, and the chart saved next to the report is a real PNG.
    assert "Incident stats: 30d" in out and "*Costs:* 12,000.00 EUR" in out
    chart = report.with_name("report-stats.png")
    assert data["chart"] == str(chart)
    assert f"Stats chart saved to {chart}" in out
    content = chart.read_bytes()
    assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) > 1000
    assert any(f["name"].endswith(".png") for f in slack["files"])


def assert_postmortem_scenes(data: dict[str, Any], out: str, report: Path) -> None:
    """Issue 6, Confluence: the page written at mitigation, the gate's fix being the label a person
    adds in Confluence, and the page saved next to the report with the real timeline in order."""
    import html.entities
    import re
    import xml.etree.ElementTree as ET

    assert data["servers"]["confluence"]["violations"] == []
    assert data["servers"]["confluence"]["requests"] > 0
    assert "writes the post-mortem page in Confluence" in out
    assert "Add the label postmortem-ready to the post-mortem page http" in out
    assert "Carol (in Confluence) adds the label postmortem-ready" in out
    assert "Post-mortem marked ready: the page has the label postmortem-ready" in out
    saved = report.with_name("report-postmortem.html")
    assert data["postmortem"] == str(saved)
    assert f"Post-mortem page saved to {saved}" in out
    entities = "".join(
        f'<!ENTITY {n} "&#{c};">'
        for n, c in html.entities.name2codepoint.items()
        if n not in {"amp", "lt", "gt", "quot", "apos"}
    )
    page = ET.fromstring(
        re.sub(r"<!DOCTYPE html>", f"<!DOCTYPE html [{entities}]>", saved.read_text())
    )
    timeline = next(d for d in page.iter("div") if d.get("id") == "firefighter-timeline")
    rows = [["".join(td.itertext()) for td in tr.findall("td")] for tr in timeline.iter("tr")][1:]
    whats = [what for _, _, what in rows]
    assert whats[0].startswith("Declared P2: Card payments failing at checkout")
    assert rows == sorted(rows, key=lambda row: row[0])  # in the order things happened
    assert whats.index("Status: Open → Mitigating") < whats.index("Status: Mitigating → Mitigated")
    assert whats[-1] == "Status: Mitigated → Post-mortem"
    assert any("(60% success). (edited)" in what for what in whats)
    assert "intermediate CA" in "".join(page.itertext())  # Carol's root cause, kept


def assert_pagerduty_scenes(data: dict[str, Any], out: str) -> None:
    """Issue 6, PagerDuty: the P2 paged its service once at declaration, on-call shown level by
    level (Erin, in PagerDuty only, by name), Bob's acknowledgement in PagerDuty told in the
    channel and setting Acknowledged, the page resolved at mitigation; no contract violation."""
    assert data["servers"]["pagerduty"]["violations"] == []
    assert data["servers"]["pagerduty"]["requests"] > 0
    assert "PagerDuty sandbox:" in out and "PagerDuty sandbox: 0 requests" not in out
    assert "key firefighter-1-PPAY001" in out
    assert "Paged Payments API (automatic for P2): PagerDuty #1, high urgency. Notified: Bob" in out
    assert "Level 1: @bob" in out
    assert "Erin Fox _(no Slack account with their e-mail)_" in out
    assert "Bob Nguyen acknowledged the page on Payments API (PagerDuty #1) in PagerDuty." in out
    assert "Resolved the page on Payments API (PagerDuty #1): #1 is Mitigated." in out
    slack = data["state"]["slack"]
    major = next(i for i in data["state"]["incidents"] if i["id"] == 1)
    channel = next(c for c in slack["channels"] if c["name"] == major["channel_name"])
    paged = [m for m in channel["messages"] if "Paged Payments API" in m["text"]]
    assert len(paged) == 1  # one page, whatever the redeliveries and the Jira priority raise
