"""App Home and list builders: Slack's limits hold for any number of incidents, with snapshots."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.blocks.home import (
    MAX_BLOCKS,
    HomeFilters,
    HomePage,
    PriorityStyle,
    apply_home_action,
    home_view,
)
from bot.blocks.incident_list import MAX_LISTED, incident_list_message
from bot.domain.incident import Incident, Milestones, Priority, ResponseType, Status
from bot.domain.metrics import PeriodSummary
from sandbox.slack.blockkit import BlockKitChecker

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
TZ = ZoneInfo("Europe/Paris")
CATS = [("checkout", "Checkout"), ("payments", "Payments")]
STYLES = {
    p: PriorityStyle(emoji=":red_circle:" if p == Priority.P1 else "", name=f"Level {p.value}")
    for p in Priority
}


def incident(
    n: int,
    *,
    priority: Priority = Priority.P2,
    status: Status = Status.INVESTIGATING,
    private: bool = False,
) -> Incident:
    closed_at = NOW - timedelta(hours=1) if status is Status.CLOSED else None
    return Incident(
        id=n,
        title=f"Checkout errors number {n} <!here>",
        summary="Customers see 500 errors on checkout.",
        priority=priority,
        category="checkout",
        environments=("PRD",),
        status=status,
        created_by="U1",
        created_at=NOW - timedelta(minutes=95),
        updated_at=NOW,
        response_type=ResponseType.CRITICAL,
        private=private,
        channel_id=f"C{n:05d}",
        milestones=Milestones(declared_at=NOW - timedelta(minutes=95), closed_at=closed_at),
    )


def test_an_empty_home_is_a_valid_home_view(snapshot) -> None:
    view = home_view(HomePage("U1", [], [], []), styles=STYLES, tz=TZ, now=NOW, command="/incident")
    assert BlockKitChecker().check_view(view) == []
    assert view == snapshot


def test_a_busy_home_groups_by_priority(snapshot) -> None:
    mine = [incident(1, priority=Priority.P1)]
    open_ = [incident(1, priority=Priority.P1), incident(2), incident(3, private=True)]
    page = HomePage(
        "U1",
        mine,
        open_,
        [incident(9, status=Status.CLOSED)],
        commanders={1: "U7"},
        roles_of_viewer={1: ["Commander"]},
        has_more=True,
        metrics=PeriodSummary(
            since=NOW - timedelta(days=30),
            count_by_priority={Priority.P1: 1, Priority.P2: 4},
            median_time_to_acknowledge=timedelta(minutes=4),
            median_time_to_mitigate=timedelta(hours=1, minutes=20),
            open_postmortems=2,
        ),
    )
    view = home_view(page, styles=STYLES, tz=TZ, now=NOW, command="/incident", categories=CATS)
    assert BlockKitChecker().check_view(view) == []
    assert view == snapshot
    metrics = next(b for b in view["blocks"] if b.get("block_id") == "home.metrics")
    assert metrics["fields"][-1]["text"] == "*Overdue follow-ups*\n—"  # no number faked
    menu = next(b for b in view["blocks"] if b.get("block_id") == "home.incident.open.3")
    options = menu["accessory"]["options"]
    assert [o["value"] for o in options] == ["3:update", "3:note", "3:close", "3:channel"]
    assert options[-1]["url"].endswith("channel=C00003")


def test_a_filter_without_result_says_so_and_keeps_the_filters(snapshot) -> None:
    filters = HomeFilters(category="checkout", priority=Priority.P1, mine=False)
    view = home_view(
        HomePage("U1", [], [], [], filters=filters),
        styles=STYLES,
        tz=TZ,
        now=NOW,
        command="/incident",
        categories=CATS,
    )
    assert BlockKitChecker().check_view(view) == []
    assert view == snapshot
    assert HomeFilters.from_metadata(view["private_metadata"]) == filters
    texts = json.dumps(view["blocks"], ensure_ascii=False)
    assert "No open incident matches these filters (category checkout" in texts


def test_the_filters_and_pages_follow_the_clicks() -> None:
    filters = HomeFilters(page=3)
    chosen = apply_home_action(
        filters,
        {"action_id": "home.filter_priority", "selected_option": {"value": "P2"}},
    )
    assert chosen == HomeFilters(priority=Priority.P2)
    assert apply_home_action(chosen, {"action_id": "home.show_more", "value": "1"}) == HomeFilters(
        priority=Priority.P2, page=1
    )
    assert apply_home_action(
        chosen, {"action_id": "home.filter_mine", "selected_option": {"value": "mine"}}
    ).mine
    assert HomeFilters.from_metadata("garbage") == HomeFilters()


def test_thousands_of_incidents_stay_within_the_100_block_limit() -> None:
    open_ = [incident(n, priority=Priority((n % 5) + 1)) for n in range(1, 2001)]
    open_.sort(key=lambda i: i.priority)
    view = home_view(
        HomePage("U1", open_[:30], open_, [], has_more=True, filters=HomeFilters(page=2)),
        styles=STYLES,
        tz=TZ,
        now=NOW,
        command="/incident",
        categories=CATS,
    )
    assert len(view["blocks"]) <= MAX_BLOCKS
    assert BlockKitChecker().check_view(view) == []
    assert "more not shown here" in view["blocks"][-1]["elements"][0]["text"]
    paging = next(b for b in view["blocks"] if b.get("block_id") == "home.paging")
    assert [e["action_id"] for e in paging["elements"]] == ["home.show_more", "home.first_page"]


def test_a_long_list_stays_within_the_50_block_message_limit() -> None:
    message = incident_list_message(
        "open",
        [incident(n) for n in range(1, 80)],
        styles=STYLES,
        tz=TZ,
        now=NOW,
        command="/incident",
    )
    assert len(message["blocks"]) <= 50
    assert BlockKitChecker().check_message_blocks(message["blocks"]) == []
    assert f"{79 - MAX_LISTED} more not shown" in message["blocks"][-1]["elements"][0]["text"]


def test_closed_incidents_show_when_they_closed_in_the_configured_zone() -> None:
    message = incident_list_message(
        "closed",
        [incident(4, status=Status.CLOSED)],
        styles=STYLES,
        tz=TZ,
        now=NOW,
        command="/incident",
    )
    text = message["blocks"][1]["text"]["text"]
    assert "closed 2026-11-27 13:00 CET" in text
    assert "&lt;!here&gt;" in text
