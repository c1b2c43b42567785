"""Follow-ups in Block Kit: the list of ``/incident followup``, the confirmation, the modal of a
timeline entry's "Make it a follow-up…" and its parser, the entry menu; within Slack's limits,
with snapshots."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.blocks.followup import (
    FollowUpInvalid,
    followup_added_message,
    followup_modal,
    followups_message,
    parse_followup_modal,
    parse_followup_text,
)
from bot.blocks.ids import ActionId, BlockId, CallbackId
from bot.blocks.incident import timeline_message
from bot.blocks.manage import FormInvalid
from bot.blocks.timeline import FOLLOWUP, entry_menu, parse_entry_menu
from bot.domain.incident import Actor, TimelineEntry, TimelineKind
from sandbox.slack.blockkit import BlockKitChecker
from storage.tickets import FollowUp
from tests.domain.factories import incident

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
TZ = ZoneInfo("Europe/Paris")
MAX = 255


def followup(n: int, **changes: Any) -> FollowUp:
    values: dict[str, Any] = {
        "id": n,
        "incident_id": 42,
        "text": f"Alert on card refusal rate {n}",
        "created_by": "U1",
        "created_at": NOW - timedelta(days=40),
        "due_at": NOW + timedelta(days=3),
        "key": f"PAY-{100 + n}",
        "url": f"https://jira.example.com/browse/PAY-{100 + n}",
        "status": "To Do",
        "status_category": "new",
    }
    values.update(changes)
    return FollowUp(**values)


def entry(kind: TimelineKind = TimelineKind.NOTE, text: str = "Rolled back") -> TimelineEntry:
    return TimelineEntry(
        id=7,
        incident_id=42,
        kind=kind,
        text=text,
        actor=Actor.user("U1"),
        happened_at=NOW - timedelta(hours=1),
        created_at=NOW - timedelta(hours=1),
    )


def submitted(view: dict[str, Any], text: str) -> dict[str, Any]:
    """``view`` as Slack sends it back on submission, with ``text`` typed in."""
    values = {
        BlockId.FOLLOWUP_TEXT: {BlockId.FOLLOWUP_TEXT: {"type": "plain_text_input", "value": text}}
    }
    return {**view, "id": "V1", "state": {"values": values}}


def test_the_list_links_each_issue_with_its_status_and_due_date_and_marks_the_overdue(
    snapshot,
) -> None:
    followups = [
        followup(1),
        followup(2, due_at=NOW - timedelta(days=2), status="In Progress"),
        followup(3, status="Done", status_category="done", done_at=NOW - timedelta(days=1)),
        followup(4, key=None, url=None, status=None, text="Remove the <!channel> *feature* flag"),
    ]
    message = followups_message(incident(), followups, tz=TZ, now=NOW, command="/incident")

    assert BlockKitChecker().check_message_blocks(message["blocks"]) == []
    assert message == snapshot
    shown = json.dumps(message["blocks"], ensure_ascii=False)
    assert "<https://jira.example.com/browse/PAY-101|PAY-101>" in shown
    assert ":warning: *overdue* (due 2026-11-25 14:00 CET)" in shown
    assert "due 2026-11-30 14:00 CET" in shown  # the configured zone, not UTC
    assert "being created in Jira" in shown
    assert "<!channel>" not in shown and "&lt;!channel&gt;" in shown
    assert "4 follow-ups · 1 overdue · 1 done" in message["text"]


def test_an_incident_without_follow_ups_says_how_to_add_one() -> None:
    message = followups_message(incident(), [], tz=TZ, now=NOW, command="/incident")
    assert "No follow-up on #42 yet" in message["text"]
    assert "`/incident followup <what needs doing>`" in message["text"]


def test_a_hundred_long_follow_ups_fit_one_message() -> None:
    many = [
        followup(n, text="x" * 255, url="https://jira.example.com/" + "y" * 150) for n in range(130)
    ]
    message = followups_message(incident(), many, tz=TZ, now=NOW, command="/incident")
    assert BlockKitChecker().check_message_blocks(message["blocks"]) == []
    assert "The first 100 of 130" in json.dumps(message["blocks"], ensure_ascii=False)


def test_the_confirmation_says_jira_is_next_or_names_the_issue_once_created() -> None:
    pending = followup_added_message(incident(), followup(1, key=None, url=None))
    created = followup_added_message(incident(), followup(1))
    assert (
        "Follow-up added to #42: Alert on card refusal rate 1 — I'm creating it in Jira."
        in (pending["text"])
    )
    assert "<https://jira.example.com/browse/PAY-101|PAY-101> on #42" in created["text"]
    assert pending["response_type"] == "ephemeral"


def test_a_typed_text_is_one_line_and_empty_or_too_long_texts_say_what_to_do() -> None:
    assert parse_followup_text("  Add an\nalert   on p99 ", max_length=MAX) == "Add an alert on p99"
    with pytest.raises(FollowUpInvalid, match=r"`/incident followup <text>`"):
        parse_followup_text(" \n ", max_length=MAX)
    with pytest.raises(FollowUpInvalid, match=r"at most 255 characters \(this one has 300\)"):
        parse_followup_text("x" * 300, max_length=MAX)


def test_the_modal_is_prefilled_with_the_entry_text_cut_to_a_jira_summary(snapshot) -> None:
    view = followup_modal(
        incident(),
        "Rolled back\nthe gateway",
        max_length=MAX,
        due_days=30,
        channel_id="C9",
    )
    assert BlockKitChecker().check_view(view) == []
    assert view == snapshot
    long = followup_modal(incident(), "y" * 400, max_length=MAX, due_days=1)
    element = long["blocks"][1]["element"]
    assert len(element["initial_value"]) == MAX and element["max_length"] == MAX
    assert "due in 1 day." in long["blocks"][1]["hint"]["text"]


def test_the_modal_reads_back_the_incident_the_text_and_where_to_answer() -> None:
    view = followup_modal(incident(), "x", max_length=MAX, due_days=30, channel_id="C9")
    draft = parse_followup_modal(submitted(view, " Add an  alert "), max_length=MAX)
    assert (draft.incident_id, draft.text, draft.channel_id) == (42, "Add an alert", "C9")
    assert view["callback_id"] == CallbackId.FOLLOWUP_MODAL


@pytest.mark.parametrize(
    ("typed", "problem"),
    [("   ", "Say what needs doing"), ("z" * 256, "at most 255 characters (this one has 256)")],
)
def test_a_bad_text_is_shown_on_the_modal_input(typed: str, problem: str) -> None:
    view = followup_modal(incident(), "x", max_length=MAX, due_days=30)
    with pytest.raises(FormInvalid) as refused:
        parse_followup_modal(submitted(view, typed), max_length=MAX)
    assert set(refused.value.errors) == {BlockId.FOLLOWUP_TEXT}
    assert problem in refused.value.errors[BlockId.FOLLOWUP_TEXT]


def test_the_entry_menu_offers_a_follow_up_only_with_jira_and_not_on_a_follow_up() -> None:
    def values(menu: dict[str, Any]) -> list[str]:
        return [o["value"] for o in menu["options"]]

    assert values(entry_menu(entry())) == ["edit:7", "strike:7"]
    assert values(entry_menu(entry(), followups=True)) == ["edit:7", "strike:7", "followup:7"]
    assert "followup:7" not in values(entry_menu(entry(TimelineKind.FOLLOWUP), followups=True))
    chosen = {"action_id": ActionId.TIMELINE_ENTRY, "selected_option": {"value": "followup:7"}}
    assert parse_entry_menu(chosen) == (FOLLOWUP, 7)
    page = timeline_message(
        incident(), [entry()], tz=TZ, page=1, has_more=False, editable=True, followups=True
    )
    assert "Make it a follow-up…" in json.dumps(page["blocks"], ensure_ascii=False)
