"""Follow-ups in the figures, from values only: the App Home's "Overdue follow-ups", the stats and
the digest, the export's columns; "not tracked" (no Jira) is told apart from zero."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.blocks.home import HomePage, home_view
from bot.blocks.report import digest_message, stats_message
from bot.domain.export import COLUMNS, export_rows, to_csv
from bot.domain.metrics import summarize_period
from bot.domain.stats import FollowUpCounts, compute_stats, parse_period
from sandbox.slack.blockkit import BlockKitChecker
from tests.domain.factories import incident

TZ = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)


def _panel(overdue: int | None) -> tuple[str, str]:
    """The "Overdue follow-ups" field of the Home's panel, and the panel's note."""
    summary = summarize_period([], since=NOW - timedelta(days=30), overdue_followups=overdue)
    page = HomePage("U1", [], [], [], metrics=summary)
    view = home_view(page, styles={}, tz=TZ, now=NOW, command="/incident")
    assert BlockKitChecker().check_view(view) == []
    panel = next(b for b in view["blocks"] if b.get("block_id") == "home.metrics")
    field = next(f["text"] for f in panel["fields"] if f["text"].startswith("*Overdue"))
    note = view["blocks"][view["blocks"].index(panel) + 1]["elements"][0]["text"]
    return field, note


def test_the_home_panel_shows_the_overdue_count_or_a_dash_saying_jira_is_not_configured():
    assert _panel(3) == (
        "*Overdue follow-ups*\n3",
        "Open post-mortems and overdue follow-ups: as of now, whatever the incident's age.",
    )
    assert _panel(0)[0] == "*Overdue follow-ups*\n0"
    field, note = _panel(None)
    assert field == "*Overdue follow-ups*\n—"
    assert "follow-ups are Jira issues, and Jira is not configured" in note


def _declared(i: int, days_ago: int):
    at = NOW - timedelta(days=days_ago)
    return dataclasses.replace(incident(id=i), created_at=at, updated_at=at)


def test_stats_count_the_follow_ups_of_the_period_and_of_the_period_before():
    period = parse_period("7d", now=NOW, tz=TZ)
    incidents = [_declared(1, 2), _declared(2, 3), _declared(10, 9)]
    followups = {
        1: FollowUpCounts(total=3, overdue=1, done=1),
        2: FollowUpCounts(total=1, overdue=1),
        10: FollowUpCounts(total=2, overdue=2),
        99: FollowUpCounts(total=50, overdue=50),  # not an incident of either period
    }
    tracked, untracked = (
        compute_stats(
            incidents,
            period=period,
            previous=period.previous(TZ),
            tz=TZ,
            cost_totals={},
            visible=lambda i: True,
            followups=counts,
        )
        for counts in (followups, None)
    )

    assert tracked.followups == FollowUpCounts(total=4, overdue=2, done=1)
    assert tracked.previous_followups == FollowUpCounts(total=2, overdue=2)
    shown = str(stats_message(tracked, tz=TZ, styles={}, category_names={})["blocks"])
    assert (
        "*Follow-ups:* 4 for these incidents, *2 overdue*, 1 done "
        "(the period before: 2, 2 overdue)." in shown
    )
    assert untracked.followups is None
    assert "Follow-ups" not in str(stats_message(untracked, tz=TZ, styles={}, category_names={}))

    digest = digest_message(
        tracked, tz=TZ, styles={}, category_names={}, open_postmortems=1, overdue_followups=7
    )
    assert "*Open post-mortems:* 1 · *Overdue follow-ups:* 7" in str(digest["blocks"])
    quiet = digest_message(untracked, tz=TZ, styles={}, category_names={}, open_postmortems=1)
    assert "Overdue follow-ups" not in str(quiet["blocks"])


def test_the_export_ends_with_the_follow_up_columns_empty_when_not_tracked():
    incidents = [_declared(1, 1), _declared(2, 2)]
    tracked = export_rows(
        incidents,
        cost_totals={},
        cost_counts={},
        visible=lambda i: True,
        followups={1: FollowUpCounts(total=3, overdue=2, done=1)},
    )
    untracked = export_rows(incidents, cost_totals={}, cost_counts={}, visible=lambda i: True)

    assert COLUMNS[-2:] == ("followups", "followups_overdue")
    read = list(csv.DictReader(io.StringIO(to_csv(tracked))))
    assert [(r["followups"], r["followups_overdue"]) for r in read] == [("3", "2"), ("0", "0")]
    assert [(r["followups"], r["followups_overdue"]) for r in untracked] == [("", ""), ("", "")]
