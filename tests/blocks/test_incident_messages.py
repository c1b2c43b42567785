"""The incident messages: valid Block Kit, snapshots of meaningful states, the logic asserted, and
hostile user text never reaching Slack unescaped."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.blocks.home import PriorityStyle
from bot.blocks.ids import ActionId
from bot.blocks.incident import (
    IncidentView,
    announcement_message,
    change_reply,
    closing_summary_message,
    deploy_warning_message,
    note_added_message,
    role_assigned_dm,
    side_effect_failed_message,
    status_update_message,
    summary_message,
    timeline_message,
    topic_text,
)
from bot.domain.incident import (
    JIRA,
    Actor,
    ClosureReason,
    Incident,
    Milestones,
    Priority,
    ResponseType,
    Status,
    TimelineEntry,
    TimelineKind,
)
from sandbox.slack.blockkit import BlockKitChecker

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
TZ = ZoneInfo("Europe/Paris")
DECLARED = NOW - timedelta(hours=2)
P2 = PriorityStyle(":large_orange_circle:", "High")
P1 = PriorityStyle(":red_circle:", "Critical")
LINKS = {"Jira": "https://jira.example.com/browse/INC-12?a=1&b=2", "Post-mortem": "https://wiki/pm"}
HOSTILE = ["<!channel>", "<!here>", "<@U1>", "<http://evil|ok>", "&", "<#C1>", "<!subteam^S1>"]
ALLOWED_TAGS = {
    "<@U7>",
    "<@U8>",
    "<@U9>",
    "<#C12>",
    "<https://jira.example.com/browse/INC-12?a=1&amp;b=2|Jira>",
    "<https://wiki/pm|Post-mortem>",
    "<https://acme.slack.com/archives/C12/p1|original message>",
    "<https://acme.slack.com/archives/C12/p1|source>",
}


def milestones(status: Status) -> Milestones:
    mitigated = DECLARED + timedelta(minutes=40) if status.is_mitigated_or_later else None
    closed = DECLARED + timedelta(minutes=90) if status.is_closed else None
    return Milestones(
        started_at=DECLARED - timedelta(minutes=30),
        detected_at=DECLARED - timedelta(minutes=10),
        declared_at=DECLARED,
        acknowledged_at=DECLARED + timedelta(minutes=5) if status is not Status.OPEN else None,
        mitigated_at=mitigated,
        closed_at=closed,
    )


def incident(status: Status = Status.INVESTIGATING, **changes: Any) -> Incident:
    base = Incident(
        id=12,
        title="Checkout fails for every customer",
        summary="Payments return 500 since the 12:05 deploy.",
        priority=Priority.P2,
        category="payments",
        environments=("PRD", "STG"),
        status=status,
        created_by="U7",
        created_at=DECLARED,
        updated_at=NOW,
        response_type=ResponseType.CRITICAL,
        channel_id="C12",
        milestones=milestones(status),
    )
    return dataclasses.replace(base, **changes)


def view(inc: Incident, **changes: Any) -> IncidentView:
    base = IncidentView(
        incident=inc,
        style=P2,
        tz=TZ,
        now=NOW,
        command="/incident",
        commander="U7",
        commander_name="cora",
        roles=[("Communications lead", "U8")],
        links=LINKS,
        category_name="Payments",
    )
    return dataclasses.replace(base, **changes)


def entry(n: int, kind: TimelineKind = TimelineKind.NOTE, **changes: Any) -> TimelineEntry:
    base = TimelineEntry(
        id=n,
        incident_id=12,
        kind=kind,
        happened_at=DECLARED + timedelta(minutes=n),
        actor=Actor.user("U9"),
        created_at=DECLARED + timedelta(minutes=n),
        text=f"Entry number {n}",
    )
    return dataclasses.replace(base, **changes)


def valid(message: dict[str, Any]) -> dict[str, Any]:
    assert message["text"]
    assert len(message["text"]) <= 4000
    assert len(message["blocks"]) <= 50
    assert BlockKitChecker().check_message_blocks(message["blocks"]) == []
    return message


def texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item)


# --- the pinned summary --------------------------------------------------------------------------


def test_the_summary_of_an_investigated_incident(snapshot) -> None:
    message = valid(summary_message(view(incident())))
    assert message == snapshot
    actions = next(b for b in message["blocks"] if b["type"] == "actions")["elements"]
    assert [(a["action_id"], a["value"]) for a in actions] == [
        (f"{ActionId.OPEN_MODAL}.{modal}", f"12:{modal}")
        for modal in ("update", "status", "roles", "note", "close")
    ]


def test_the_summary_of_a_private_mitigated_incident_shows_when_it_was_mitigated(snapshot) -> None:
    message = valid(summary_message(view(incident(Status.MITIGATED, private=True), links={})))
    assert message == snapshot
    fields = "\n".join(f["text"] for f in message["blocks"][1]["fields"])
    assert "*Mitigated*\n2026-11-27 12:40 CET" in fields
    assert ":lock: Private incident" in str(message["blocks"])


def test_a_closed_incident_summary_offers_reopen_instead_of_close() -> None:
    message = valid(summary_message(view(incident(Status.CLOSED))))
    actions = next(b for b in message["blocks"] if b["type"] == "actions")["elements"]
    assert [a["value"] for a in actions] == ["12:reopen", "12:note"]


def test_the_longest_title_and_summary_fit_slack_limits() -> None:
    inc = incident(title="&" * 128, summary="<!channel> " * 110)
    message = valid(summary_message(view(inc)))
    assert len(message["blocks"][0]["text"]["text"]) <= 150


def test_a_link_that_is_not_http_is_shown_as_text() -> None:
    message = summary_message(view(incident(), links={"Jira": "javascript:alert(1)|x>"}))
    links = next(b for b in message["blocks"] if "*Links*" in str(b))["text"]["text"]
    assert links == "*Links*\nJira: javascript:alert(1)|x&gt;"


# --- the topic ---------------------------------------------------------------------------------


def test_the_topic_says_priority_status_and_commander() -> None:
    assert topic_text(view(incident())) == "P2 · High · Investigating · Commander: @cora"


def test_the_topic_mentions_the_commander_when_the_name_is_unknown_and_fits_250() -> None:
    topic = topic_text(view(incident(private=True), commander_name=None))
    assert topic == "P2 · High · Investigating · Commander: <@U7> · Private"
    long = topic_text(
        view(incident(), commander_name="x" * 400, style=PriorityStyle("", "y" * 300))
    )
    assert len(long) <= 250


# --- announcements -----------------------------------------------------------------------------


def test_the_announcement_of_an_open_incident_invites_to_join(snapshot) -> None:
    message = valid(announcement_message(view(incident()), "C12"))
    assert message == snapshot
    assert "Join <#C12>" in message["blocks"][-1]["elements"][0]["text"]


def test_the_announcement_of_a_mitigated_incident_says_how_long_it_took(snapshot) -> None:
    message = valid(announcement_message(view(incident(Status.MITIGATED)), "C12"))
    assert message == snapshot
    context = message["blocks"][-1]["elements"][0]["text"]
    assert context.startswith("Mitigated 2026-11-27 12:40 CET · time to mitigate 1 h 10 min")
    assert "mitigated in 1 h 10 min" in message["text"]


def test_the_announcement_of_an_early_closed_incident_gives_the_reason() -> None:
    inc = incident(
        Status.CLOSED, closure_reason=ClosureReason.DUPLICATE, closure_reference="#10 <!here>"
    )
    message = valid(announcement_message(view(inc), None))
    context = message["blocks"][-1]["elements"][0]["text"]
    assert "Closed early: Duplicate (#10 &lt;!here&gt;)" in context
    assert "time to close 1 h 30 min" in context
    assert "<#" not in context


def test_a_change_reply_names_the_change_and_who_did_it(snapshot) -> None:
    message = valid(change_reply(incident(), "Status: Investigating → Mitigated", actor="U1"))
    assert message == snapshot
    assert message["blocks"][0]["text"]["text"] == "Status: Investigating → Mitigated, by <@U1>"
    assert change_reply(incident(), "Priority: P3 → P2", actor=None)["text"] == (
        "#12: Priority: P3 → P2"
    )


def test_a_status_update_quotes_the_message_and_links_its_source(snapshot) -> None:
    message = valid(
        status_update_message(
            incident(),
            "Rollback done.\nErrors are back to normal <!channel>",
            "U8",
            "https://acme.slack.com/archives/C12/p1",
        )
    )
    assert message == snapshot
    quote = "\n>Rollback done.\n>Errors are back to normal &lt;!channel&gt;"
    assert quote in message["blocks"][0]["text"]["text"]


def test_a_deploy_warning_and_its_lifted_version(snapshot) -> None:
    p1 = incident(priority=Priority.P1)
    frozen = valid(deploy_warning_message(p1, P1, lifted=False))
    lifted = valid(
        deploy_warning_message(incident(Status.MITIGATED, priority=Priority.P1), P1, True)
    )
    assert (frozen, lifted) == snapshot
    assert frozen["text"] == "Deploys frozen: P1 in PRD (#12)"
    assert lifted["text"] == "Deploy freeze lifted: #12 is mitigated"


def test_a_deploy_warning_hides_a_private_incident_title() -> None:
    message = deploy_warning_message(incident(private=True), P1, lifted=False)
    assert "Checkout" not in str(message)
    assert "a private incident" in message["blocks"][0]["text"]["text"]


# --- closing -----------------------------------------------------------------------------------


def test_the_closing_summary_gives_durations_and_when_the_channel_is_archived(snapshot) -> None:
    message = valid(
        closing_summary_message(
            view(incident(Status.CLOSED)), 23, archive_after=timedelta(hours=24)
        )
    )
    assert message == snapshot
    assert "archived 2026-11-28 14:00 CET (in 1 d)" in message["blocks"][-1]["elements"][0]["text"]


def test_a_closing_summary_says_not_recorded_for_missing_milestones_and_archives_now() -> None:
    inc = incident(
        Status.CLOSED,
        milestones=Milestones(declared_at=DECLARED, closed_at=NOW),
        closure_reason=ClosureReason.FALSE_ALARM,
    )
    message = valid(closing_summary_message(view(inc), 1, archive_after=timedelta(0)))
    fields = [f["text"] for f in message["blocks"][2]["fields"]]
    assert fields[:4] == [
        "*Time to detect*\nnot recorded",
        "*Time to acknowledge*\nnot recorded",
        "*Time to mitigate*\nnot recorded",
        "*Time to close*\n2 h",
    ]
    assert any("Closed early: False alarm" in str(b) for b in message["blocks"])
    assert "1 timeline entry:" in str(message["blocks"][-1])
    assert "archived now" in str(message["blocks"][-1])


def test_a_negative_duration_is_shown_as_a_data_problem() -> None:
    wrong = Milestones(started_at=NOW, detected_at=NOW - timedelta(minutes=5), declared_at=NOW)
    message = closing_summary_message(
        view(incident(Status.CLOSED, milestones=wrong)), 3, archive_after=timedelta(hours=1)
    )
    assert "negative (-5 min): check the milestones" in message["blocks"][2]["fields"][0]["text"]


# --- people and confirmations ------------------------------------------------------------------


def test_a_role_dm_gives_the_duties_and_the_channel(snapshot) -> None:
    message = valid(
        role_assigned_dm(
            incident(),
            "Communications lead",
            "Keeps stakeholders informed: Q&A, status updates.",
            "C12",
            Actor.user("U7"),
        )
    )
    assert message == snapshot
    assert "Q&amp;A" in message["blocks"][1]["text"]["text"]
    assert (
        "Assigned by <@U7>. You are invited to <#C12>"
        in message["blocks"][-1]["elements"][0]["text"]
    )


def test_a_failed_side_effect_says_what_failed_and_what_to_do(snapshot) -> None:
    message = valid(side_effect_failed_message("#12", "create the Jira ticket", "HTTP 503 <html>"))
    assert message == snapshot
    assert message["blocks"][0]["text"]["text"].startswith(
        ":warning: I could not create the Jira ticket (HTTP 503 &lt;html&gt;) for #12."
    )


def test_a_note_confirmation_names_the_incident() -> None:
    message = valid(note_added_message(incident(), "Rolled back <!here>"))
    assert message["text"] == (
        ":spiral_note_pad: Added to the timeline of #12: Rolled back &lt;!here&gt;"
    )


# --- the timeline ------------------------------------------------------------------------------


def test_a_timeline_page_shows_edits_deletions_sources_and_more(snapshot) -> None:
    entries = [
        entry(1, TimelineKind.DECLARED, text="Declared"),
        entry(
            2,
            TimelineKind.PINNED_MESSAGE,
            text="Rolled back <!channel>",
            edited=True,
            source_permalink="https://acme.slack.com/archives/C12/p1",
        ),
        entry(3, TimelineKind.PINNED_MESSAGE, text="Wrong guess", struck_out=True),
        entry(4, TimelineKind.EXTERNAL_EVENT, text="INC-12 moved to In progress", actor=JIRA),
    ]
    message = valid(timeline_message(incident(), entries, tz=TZ, page=2, has_more=True))
    assert message == snapshot
    lines = message["blocks"][1]["text"]["text"].splitlines()
    assert lines[1] == (
        "`2026-11-27 12:02 CET` :pushpin: Rolled back &lt;!channel&gt; (edited) · <@U9>"
        " · <https://acme.slack.com/archives/C12/p1|source>"
    )
    assert lines[2].startswith("`2026-11-27 12:03 CET` :pushpin: ~Wrong guess~ (deleted in Slack)")
    assert lines[3].endswith("· Jira")
    button = message["blocks"][-1]["elements"][0]
    assert (button["action_id"], button["value"]) == (ActionId.TIMELINE_MORE, "12:3")


def test_a_full_timeline_page_of_long_entries_fits_50_blocks() -> None:
    entries = [entry(n, text="x" * 3000) for n in range(200)]
    message = valid(
        timeline_message(incident(), entries, tz=TZ, page=1, page_size=100, has_more=False)
    )
    assert message["blocks"][-1]["elements"][0]["value"] == "12:2"


def test_an_empty_timeline_says_so_without_a_button() -> None:
    message = valid(timeline_message(incident(), [], tz=TZ, page=1, has_more=False))
    assert message["blocks"][1]["text"]["text"] == "No timeline entries yet."
    assert all(b["type"] != "actions" for b in message["blocks"])


# --- hostile text ------------------------------------------------------------------------------

hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE), st.text(max_size=20)), min_size=1, max_size=40
).map("".join)


def every_message(title: str, summary: str) -> list[dict[str, Any]]:
    inc = incident(
        title=title,
        summary=summary,
        closure_reason=ClosureReason.DUPLICATE,
        closure_reference=summary,
    )
    closed = dataclasses.replace(inc, status=Status.CLOSED, milestones=milestones(Status.CLOSED))
    shown = view(inc, roles=[(title, "U8")], category_name=title)
    entries = [entry(1, text=summary), entry(2, text=title, struck_out=True)]
    return [
        summary_message(shown),
        summary_message(dataclasses.replace(shown, incident=closed)),
        announcement_message(shown, "C12"),
        announcement_message(dataclasses.replace(shown, incident=closed), "C12"),
        change_reply(inc, f"Title: {title}", actor="U7"),
        closing_summary_message(
            dataclasses.replace(shown, incident=closed), 2, archive_after=timedelta(hours=1)
        ),
        role_assigned_dm(inc, title, summary, "C12", Actor.system("jira", title)),
        deploy_warning_message(inc, P1, lifted=False),
        status_update_message(inc, summary, "U8", "https://acme.slack.com/archives/C12/p1"),
        side_effect_failed_message(inc.reference, title, summary),
        note_added_message(inc, summary),
        timeline_message(inc, entries, tz=TZ, page=1, has_more=False),
        {"text": topic_text(dataclasses.replace(shown, commander_name=title)), "blocks": []},
    ]


@settings(max_examples=60, deadline=None)
@given(title=hostile_text, summary=hostile_text)
def test_hostile_titles_and_summaries_never_reach_slack_unescaped(title: str, summary: str) -> None:
    for message in every_message(title, summary):
        for text in texts(message):
            ours_removed = text
            for tag in ALLOWED_TAGS:
                ours_removed = ours_removed.replace(tag, "")
            assert "<" not in ours_removed, text
            assert ">" not in ours_removed.replace("\n>", "\n"), text  # quotes are ours
            assert not re.search(r"&(?!amp;|lt;|gt;)", text), text


def test_a_private_announcement_says_whom_to_ask_instead_of_join() -> None:
    message = announcement_message(view(incident(private=True)), "C12")

    text = str(message)
    assert "Join <#C12>" not in text
    assert "Private channel: ask" in text


def test_times_in_timeline_texts_are_shown_in_the_configured_zone() -> None:
    from bot.blocks.text import localize_times

    text = "Acknowledged set to 2026-11-27T21:15:12.493930+00:00"

    assert localize_times(text, TZ) == "Acknowledged set to 2026-11-27 22:15 CET"
    assert localize_times("no time here", TZ) == "no time here"
