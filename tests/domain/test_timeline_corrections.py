"""Correcting the timeline (edit with a reason, strike out with a reason) and several milestones at
once: the pure rules and the audit data they leave."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.incident import Actor, Milestone, Status, TimelineEntry, TimelineKind
from bot.domain.milestones import MAX_CLOCK_SKEW, MilestoneBatchRefused, set_milestones
from bot.domain.timeline import (
    REASON_MIN_LENGTH,
    TEXT_MAX_LENGTH,
    EntryField,
    TimelineEditRefused,
    earliest_time,
    edit_entry,
    strike_entry,
    struck_reason,
)
from tests.domain.factories import COMMANDER, DECLARED, NOW, SOMEONE, incident

REASON = "Typo in the gateway version"


def note(**changes: object) -> TimelineEntry:
    values: dict[str, object] = {
        "id": 7,
        "incident_id": 42,
        "kind": TimelineKind.NOTE,
        "happened_at": DECLARED + timedelta(minutes=20),
        "actor": COMMANDER,
        "created_at": DECLARED + timedelta(minutes=20),
        "text": "Rolled back the gateway to v14",
    }
    values.update(changes)
    return TimelineEntry(**values)  # type: ignore[arg-type]


def refusal(**kwargs: object) -> TimelineEditRefused:
    arguments: dict[str, object] = {
        "text": "Rolled back the gateway to v41",
        "happened_at": None,
        "reason": REASON,
        "by": SOMEONE,
        "now": NOW,
    }
    arguments.update(kwargs)
    entry = arguments.pop("entry", note())
    with pytest.raises(TimelineEditRefused) as refused:
        edit_entry(incident(), entry, **arguments)  # type: ignore[arg-type]
    return refused.value


def test_an_edit_keeps_the_previous_text_and_time_the_reason_and_who_in_the_entry_data() -> None:
    entry = note(data={"author": "U1"})
    earlier = entry.happened_at - timedelta(minutes=3)

    change = edit_entry(
        incident(),
        entry,
        text="  Rolled back the gateway to v41 ",
        happened_at=earlier,
        reason=f" {REASON} ",
        by=SOMEONE,
        now=NOW,
    )

    assert change.text == "Rolled back the gateway to v41"
    assert change.happened_at == earlier
    assert change.data == {
        "author": "U1",
        "edits": [
            {
                "previous_text": "Rolled back the gateway to v14",
                "previous_happened_at": entry.happened_at.isoformat(),
                "text_changed": True,
                "time_changed": True,
                "reason": REASON,
                "by": SOMEONE.id,
                "at": NOW.isoformat(),
            }
        ],
    }


def test_a_second_edit_appends_to_the_audit_and_an_unchanged_time_stays_as_it_was() -> None:
    first = edit_entry(
        incident(), note(), text="Second text", happened_at=None, reason=REASON, by=SOMEONE, now=NOW
    )
    entry = note(text=first.text, data=first.data, edited=True)

    second = edit_entry(
        incident(), entry, text="Third text", happened_at=None, reason=REASON, by=COMMANDER, now=NOW
    )

    assert second.happened_at == entry.happened_at
    edits = second.data["edits"]
    assert isinstance(edits, list)
    assert [e["previous_text"] for e in edits] == ["Rolled back the gateway to v14", "Second text"]  # type: ignore[index]
    assert [e["by"] for e in edits] == [SOMEONE.id, COMMANDER.id]  # type: ignore[index]


def test_a_time_in_the_future_beyond_the_skew_is_refused_on_the_time() -> None:
    refused = refusal(happened_at=NOW + MAX_CLOCK_SKEW + timedelta(seconds=1))
    assert refused.field is EntryField.TIME
    assert "future" in refused.message


def test_a_time_within_the_clock_skew_is_accepted() -> None:
    change = edit_entry(
        incident(),
        note(),
        text="Rolled back the gateway to v14",
        happened_at=NOW + MAX_CLOCK_SKEW,
        reason=REASON,
        by=SOMEONE,
        now=NOW,
    )
    assert change.happened_at == NOW + MAX_CLOCK_SKEW


def test_a_time_before_the_impact_started_is_refused_on_the_time() -> None:
    started = earliest_time(incident())
    assert started == incident().milestones.started_at
    refused = refusal(happened_at=started - timedelta(seconds=1))
    assert refused.field is EntryField.TIME
    assert "before the incident started" in refused.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("   ", "Write the entry"), ("x" * (TEXT_MAX_LENGTH + 1), "at most 3000")],
)
def test_an_empty_or_too_long_text_is_refused_on_the_text(text: str, expected: str) -> None:
    refused = refusal(text=text)
    assert refused.field is EntryField.TEXT
    assert expected in refused.message


def test_a_reason_shorter_than_ten_characters_is_refused_on_the_reason() -> None:
    refused = refusal(reason="x" * (REASON_MIN_LENGTH - 1))
    assert refused.field is EntryField.REASON
    assert f"at least {REASON_MIN_LENGTH} characters" in refused.message


def test_an_edit_that_changes_nothing_is_refused() -> None:
    refused = refusal(text="Rolled back the gateway to v14")
    assert "Nothing changed" in refused.message


def test_a_struck_out_entry_cannot_be_edited_and_the_refusal_says_why() -> None:
    struck = note(struck_out=True, data={"struck": {"reason": "Wrong incident entirely"}})
    refused = refusal(entry=struck)
    assert refused.field is EntryField.ENTRY
    assert "struck out meanwhile (Wrong incident entirely)" in refused.message


def test_striking_out_records_who_when_and_why_and_only_once() -> None:
    data = strike_entry(note(data={"author": "U1"}), reason=REASON, by=SOMEONE, now=NOW)
    assert data == {
        "author": "U1",
        "struck": {"reason": REASON, "by": SOMEONE.id, "at": NOW.isoformat()},
    }
    struck = note(struck_out=True, data=data)
    assert struck_reason(struck) == REASON
    assert struck_reason(note(struck_out=True)) is None
    with pytest.raises(TimelineEditRefused):
        strike_entry(struck, reason=REASON, by=SOMEONE, now=NOW)
    with pytest.raises(TimelineEditRefused) as short:
        strike_entry(note(), reason="because", by=SOMEONE, now=NOW)
    assert short.value.field is EntryField.REASON


def test_several_milestones_move_earlier_together_whatever_order_they_are_checked_in() -> None:
    current = incident(Status.INVESTIGATING)
    started = DECLARED - timedelta(hours=3)
    detected = DECLARED - timedelta(hours=2)

    changed, events = set_milestones(
        current, {Milestone.DETECTED: detected, Milestone.STARTED: started}, now=NOW
    )

    assert changed.milestones.started_at == started
    assert changed.milestones.detected_at == detected
    assert [e.data["milestone"] for e in events] == ["started_at", "detected_at"]


def test_moving_detected_before_the_start_alone_is_refused_naming_detected() -> None:
    current = incident(Status.INVESTIGATING)
    too_early = current.milestones.started_at - timedelta(minutes=1)  # type: ignore[operator]
    with pytest.raises(MilestoneBatchRefused) as refused:
        set_milestones(current, {Milestone.DETECTED: too_early}, now=NOW)
    assert refused.value.milestone is Milestone.DETECTED
    assert "cannot be before Impact started" in refused.value.message


def test_a_batch_is_refused_whole_when_one_milestone_breaks_a_rule() -> None:
    current = incident(Status.INVESTIGATING)
    with pytest.raises(MilestoneBatchRefused) as refused:
        set_milestones(
            current,
            {
                Milestone.STARTED: DECLARED - timedelta(hours=1),
                Milestone.MITIGATED: NOW - timedelta(minutes=5),
            },
            now=NOW,
        )
    assert refused.value.milestone is Milestone.MITIGATED
    assert "once the incident is Mitigated" in refused.value.message


def test_values_equal_to_the_current_ones_are_skipped() -> None:
    current = incident(Status.INVESTIGATING)
    changed, events = set_milestones(
        current, {Milestone.DECLARED: current.milestones.declared_at}, now=NOW
    )
    assert events == []
    assert changed == current


def test_an_edit_by_the_actor_is_recorded_with_their_id() -> None:
    actor = Actor.user("U_EDITOR")
    change = edit_entry(
        incident(), note(), text="New text here", happened_at=None, reason=REASON, by=actor, now=NOW
    )
    edits = change.data["edits"]
    assert isinstance(edits, list) and edits[0]["by"] == "U_EDITOR"  # type: ignore[index]
