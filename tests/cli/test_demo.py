"""`firefighter demo` plays a whole incident lifecycle as users would, on PostgreSQL this time (the
SQLite default is run by test_operator_commands): exit 0, no contract violation, and the incidents
it leaves in the database are the ones the script meant."""

from __future__ import annotations

import json
from pathlib import Path

from bot.domain.incident import Milestone
from tests.cli.test_operator_commands import firefighter


async def test_the_demo_plays_the_whole_lifecycle_and_leaves_the_expected_incidents(
    tmp_path: Path, process_database: str
) -> None:
    report = tmp_path / "report.json"

    code, out = await firefighter("demo", "--report", str(report), DATABASE_URL=process_database)

    assert code == 0, out
    assert "0 contract violations" in out
    data = json.loads(report.read_text())
    assert data["servers"]["slack"]["violations"] == []
    assert data["failure"] is None
    assert data["state"]["slack"]["user_errors"] == []
    by_priority = {i["priority"]: i for i in data["state"]["incidents"]}
    assert set(by_priority) == {"P1", "P2", "P4"}

    major = by_priority["P2"]
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
    assert any("picks Closed anyway" in a for a in actions)
    assert "cannot be closed yet" in out
    assert "Communications lead" in out
    assert actions[-1] == "opens the FireFighter Home tab"
    assert "The incidents, as stored in the database" in out
