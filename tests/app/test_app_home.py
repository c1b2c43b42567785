"""The App Home (PRODUCT.md §2): sections, access, filters, paging, the incident menu, the refresh
after a change, and its query budget; driven through Socket Mode against the Slack sandbox."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.sql_count import counting_queries
from bot.blocks.home import MAX_BLOCKS, HomeFilters
from bot.blocks.ids import ActionId, CallbackId
from bot.domain.incident import Actor, Incident, Milestone, NewIncident, Priority, Status
from bot.service import IncidentChanges
from sandbox.slack import SlackSandbox
from storage.repository import IncidentRepository, ParticipantRepository, RoleRepository
from tests.workspace import Workspace, declare_and_wait, outage, outbox_idle


async def _incident(
    title: str,
    *,
    by: str,
    priority: Priority = Priority.P2,
    category: str = "payments",
    private: bool = False,
    closed: bool = False,
    age: timedelta = timedelta(minutes=30),
) -> Incident:
    now = datetime.now(UTC) - age
    repository = IncidentRepository()
    incident = await repository.create(
        NewIncident(
            title=title,
            summary="Customers cannot pay with cards since the deploy.",
            priority=priority,
            category=category,
            environments=("PRD",),
            created_by=by,
            created_at=now,
            private=private,
        )
    )
    await RoleRepository().assign(incident.id, "commander", by, at=now, by=Actor.user(by))
    if closed:
        milestones = incident.milestones.with_(Milestone.CLOSED, now + timedelta(minutes=5))
        incident = await repository.update(
            dataclasses.replace(incident, status=Status.CLOSED, milestones=milestones),
            expected_version=incident.version,
        )
    return incident


def _home(slack: SlackSandbox, user: str) -> str:
    view = slack.home_view(user)
    return slack.render_blocks(view.payload["blocks"]) if view else ""


async def _open_home(slack: SlackSandbox, user: str, expected: str) -> str:
    await slack.open_app_home(user)
    await slack.wait_for(lambda: expected in _home(slack, user))
    return _home(slack, user)


async def test_the_home_shows_my_incidents_open_ones_by_priority_closed_ones_and_the_panel(
    bot, slack: SlackSandbox, ws: Workspace
):
    mine = await _incident("Checkout latency on card payments", by=ws.alice)
    await _incident("Search index stale for an hour", by=ws.bob, priority=Priority.P1)
    await _incident("Old refunds batch failed", by=ws.bob, closed=True)

    text = await _open_home(slack, ws.alice, "Your incidents")

    blocks = slack.home_view(ws.alice).payload["blocks"]
    ids = [b.get("block_id") for b in blocks]
    assert ids.index("home.mine") < ids.index("home.open") < ids.index("home.closed")
    assert ids.index(f"home.incident.open.{mine.id}") > ids.index("home.open")
    assert text.index("P1") < text.index(f"#{mine.id}")  # P1 group comes first
    assert "you: Incident commander" in text
    assert "Recently closed" in text and "Old refunds batch failed" in text
    assert "Declare incident" in text
    assert "Last 30 days" in text and "Median time to acknowledge" in text
    assert "Overdue follow-ups" in text and "Jira is not configured" in text


async def test_private_incidents_are_hidden_from_outsiders_and_shown_to_incident_managers(
    bot, slack: SlackSandbox, ws: Workspace
):
    await _incident("Public checkout errors on web", by=ws.alice)
    secret = await _incident("Suspected data leak in exports", by=ws.alice, private=True)

    bob_sees = await _open_home(slack, ws.bob, "Public checkout errors")
    manager_sees = await _open_home(slack, ws.manager, "Public checkout errors")

    assert secret.title not in bob_sees
    assert secret.title in manager_sees
    # The 30-day panel is an aggregate: the private incident is counted there for everyone.
    panel = next(b for b in slack.home_view(ws.bob).payload["blocks"] if "Last 30 days" in str(b))
    declared = next(f["text"] for f in panel["fields"] if f["text"].startswith("*Declared*"))
    assert declared.startswith("*Declared*\n2 (") and secret.title not in str(panel)
    await ParticipantRepository().joined(secret.id, ws.bob, at=datetime.now(UTC))
    await _open_home(slack, ws.bob, secret.title)


async def test_filters_are_kept_per_user_and_a_filter_without_result_says_so(
    bot, slack: SlackSandbox, ws: Workspace
):
    await _incident("Card payments failing at checkout", by=ws.alice, priority=Priority.P1)
    await _incident("Slow search results in the shop", by=ws.bob, category="search")
    await _open_home(slack, ws.alice, "Card payments failing")
    home = slack.home_view(ws.alice)

    await slack.click_button(ws.alice, ActionId.HOME_FILTER_PRIORITY, view_id=home.id, value="P1")

    await slack.wait_for(
        lambda: (
            HomeFilters.from_metadata(slack.home_view(ws.alice).payload["private_metadata"])
            == HomeFilters(priority=Priority.P1)
        )
    )
    text = _home(slack, ws.alice)
    assert "Card payments failing" in text and "Slow search results" not in text

    home = slack.home_view(ws.alice)
    await slack.click_button(ws.alice, ActionId.HOME_FILTER_MINE, view_id=home.id, value="mine")
    await slack.wait_for(lambda: "Your open incidents" in _home(slack, ws.alice))
    home = slack.home_view(ws.alice)
    await slack.click_button(
        ws.alice, ActionId.HOME_FILTER_CATEGORY, view_id=home.id, value="search"
    )
    await slack.wait_for(lambda: "No open incident matches these filters" in _home(slack, ws.alice))
    assert "category search" in _home(slack, ws.alice)

    # Opening the Home again keeps the filters; another user's Home does not have them.
    await slack.open_app_home(ws.alice)
    await slack.open_app_home(ws.bob)
    await slack.wait_for(lambda: "Slow search results" in _home(slack, ws.bob))
    filters = HomeFilters.from_metadata(slack.home_view(ws.alice).payload["private_metadata"])
    assert filters == HomeFilters(category="search", priority=Priority.P1, mine=True)
    assert "No open incident matches" in _home(slack, ws.alice)


async def test_a_forged_category_filter_is_ignored_not_echoed_into_the_home(
    bot, slack: SlackSandbox, ws: Workspace
):
    """A click whose category is none of ours (forged, or stale after a catalog change) shows all
    categories: its text never reaches the Home (found by the fuzz with `<!channel>`)."""
    await slack.open_app_home(ws.alice)
    await slack.wait_for(lambda: slack.home_view(ws.alice))
    home = slack.home_view(ws.alice)
    forged = slack.interactive_payload("block_actions", ws.alice)
    forged.update(
        {
            "container": {"type": "view", "view_id": home.id},
            "view": home.payload | {"id": home.id},
            "actions": [
                {
                    "type": "static_select",
                    "action_id": ActionId.HOME_FILTER_CATEGORY.value,
                    "block_id": "fuzz",
                    "selected_option": {
                        "text": {"type": "plain_text", "text": "x"},
                        "value": "<!channel> pwn",
                    },
                    "action_ts": "1.0",
                }
            ],
        }
    )
    publishes = len(slack.calls("views.publish"))
    delivery = await slack.hub.deliver("interactive", forged, accepts_response_payload=True)
    assert slack.hub.is_ack(await slack.hub.wait_ack(delivery, 3.0))
    await slack.wait_for(lambda: len(slack.calls("views.publish")) > publishes)
    await bot.background.drain()
    filters = HomeFilters.from_metadata(slack.home_view(ws.alice).payload["private_metadata"])
    assert filters.category is None
    assert "pwn" not in str(slack.home_view(ws.alice).payload)
    assert slack.violations == []


async def test_show_more_pages_through_many_open_incidents_within_100_blocks(
    bot, slack: SlackSandbox, ws: Workspace
):
    for n in range(45):
        await _incident(f"Incident number {n:02d} on checkout", by=ws.bob, age=timedelta(n))
    await _open_home(slack, ws.alice, "Show more")
    first = slack.home_view(ws.alice)
    assert len(first.payload["blocks"]) <= MAX_BLOCKS
    assert "Incident number 00" in _home(slack, ws.alice)

    await slack.click_button(ws.alice, ActionId.HOME_SHOW_MORE, view_id=first.id)
    await slack.wait_for(lambda: "Incident number 20" in _home(slack, ws.alice))
    second = slack.home_view(ws.alice)
    assert len(second.payload["blocks"]) <= MAX_BLOCKS
    assert "Incident number 00" not in _home(slack, ws.alice)
    assert "Open incidents 21 to 40" in _home(slack, ws.alice)

    await slack.click_button(ws.alice, ActionId.HOME_SHOW_MORE, view_id=second.id)
    await slack.wait_for(lambda: "Incident number 44" in _home(slack, ws.alice))
    assert "Show more" not in _home(slack, ws.alice)
    assert "Back to the first page" in _home(slack, ws.alice)


async def test_the_incident_menu_opens_the_update_note_and_close_modals(
    bot, slack: SlackSandbox, ws: Workspace
):
    incident = await _incident("Card payments failing at checkout", by=ws.alice)
    await _open_home(slack, ws.alice, "Card payments failing")
    home = slack.home_view(ws.alice)

    for kind, callback_id in (
        ("update", CallbackId.UPDATE_MODAL),
        ("note", CallbackId.NOTE_MODAL),
        ("close", CallbackId.CLOSE_MODAL),
    ):
        await slack.click_button(
            ws.alice,
            ActionId.HOME_INCIDENT_MENU,
            view_id=home.id,
            value=f"{incident.id}:{kind}",
            block_id=f"home.incident.open.{incident.id}",
        )
        modal = await slack.wait_for(
            lambda: next(iter(slack.views(ws.alice)[-1:]), None), timeout=5.0
        )
        assert modal.payload["callback_id"] == callback_id
        await slack.close_view(ws.alice, modal.id)


async def test_the_declare_button_opens_the_declare_modal(bot, slack: SlackSandbox, ws: Workspace):
    await _open_home(slack, ws.alice, "All quiet")

    await slack.click_button(ws.alice, ActionId.HOME_DECLARE, view_id=slack.home_view(ws.alice).id)

    modal = await slack.wait_for(lambda: next(iter(slack.views(ws.alice)), None))
    assert modal.payload["callback_id"] == CallbackId.DECLARE_MODAL


async def test_the_home_is_published_again_after_a_change_without_being_reopened(
    bot, slack: SlackSandbox, ws: Workspace
):
    incident = await declare_and_wait(bot, ws, outage())
    await _open_home(slack, ws.bob, incident.title)

    await bot.service.update(
        incident.id,
        IncidentChanges(title="Card payments failing everywhere"),
        by=Actor.user(ws.alice),
    )
    await outbox_idle()

    await slack.wait_for(lambda: "Card payments failing everywhere" in _home(slack, ws.bob))
    # The declarer never opened the Home: hers is published as theirs too.
    await slack.wait_for(lambda: "Card payments failing everywhere" in _home(slack, ws.alice))


async def test_a_burst_of_changes_makes_one_publication_per_user(
    bot, slack: SlackSandbox, ws: Workspace
):
    incident = await declare_and_wait(bot, ws, outage())
    await _open_home(slack, ws.bob, incident.title)
    await slack.wait_for(lambda: bot.home_publisher.pending == 0)
    before = len(slack.calls("views.publish"))

    for n in range(5):
        await bot.service.update(
            incident.id,
            IncidentChanges(title=f"Card payments failing, take {n}"),
            by=Actor.user(ws.alice),
        )
    await outbox_idle()
    await slack.wait_for(lambda: "take 4" in _home(slack, ws.bob), timeout=8.0)

    published_for_bob = [c for c in slack.calls("views.publish")[before:] if _user_of(c) == ws.bob]
    assert 1 <= len(published_for_bob) <= 3  # coalesced (a publication per 2 s at most)


def _user_of(call: Any) -> str | None:
    return call.args.get("user_id")


async def test_the_home_render_takes_at_most_five_queries_whatever_the_history(bot, ws: Workspace):
    for n in range(12):
        await _incident(f"Closed incident {n:02d} long ago", by=ws.bob, closed=True)
    await _incident("Private trouble in payroll", by=ws.bob, private=True)
    await _incident("Mine and open on checkout", by=ws.alice)
    counts = []
    for filters in (HomeFilters(), HomeFilters(priority=Priority.P2, mine=True, page=1)):
        with counting_queries() as sent:
            page = await bot.service.home_page(ws.alice, filters)
        counts.append(len(sent))
        assert page.metrics is not None
    for n in range(30):
        await _incident(f"More history {n:02d}", by=ws.bob, closed=True, age=timedelta(days=n))
    with counting_queries() as sent:
        await bot.service.home_page(ws.alice)
    counts.append(len(sent))
    assert max(counts) <= 5, counts
    assert counts[0] == counts[-1]
