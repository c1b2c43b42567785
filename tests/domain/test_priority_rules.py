"""Priority from impacts, response type by priority, raising and lowering a priority."""

from __future__ import annotations

import pytest

from bot.domain.incident import Priority, ResponseType, Status, TimelineKind
from bot.domain.priority import (
    NoImpactChosen,
    OverrideRefused,
    PriorityDecision,
    PriorityUnchanged,
    ResponseChange,
    UnknownImpact,
    change_priority,
    convert_to_normal,
    priority_from_impacts,
    response_type_for,
)
from tests.domain.factories import NOW, incident

TYPES = ("business", "customers", "sellers", "employees")
LEVELS = {"high": Priority.P1, "medium": Priority.P2, "low": Priority.P4, "none": None}
TABLE: dict[tuple[str, str], Priority | None] = {
    (impact_type, level): priority for impact_type in TYPES for level, priority in LEVELS.items()
}
TABLE[("employees", "high")] = Priority.P3  # a per-type override, as the catalog allows
NAMES = ("Business", "Customers", "Sellers", "Employees")


def test_the_worst_impact_wins() -> None:
    decision = priority_from_impacts(
        {"business": "low", "customers": "medium", "sellers": "none", "employees": "high"}, TABLE
    )
    assert decision == PriorityDecision(Priority.P2, Priority.P2, (("customers", "medium"),))


def test_every_impact_implying_the_worst_priority_is_named() -> None:
    decision = priority_from_impacts({"business": "high", "customers": "high"}, TABLE)
    assert decision.priority is Priority.P1
    assert decision.derived_from == (("business", "high"), ("customers", "high"))
    assert not decision.overridden


def test_a_per_type_level_mapping_is_honoured() -> None:
    assert priority_from_impacts({"employees": "high"}, TABLE).priority is Priority.P3


def test_every_impact_at_none_is_refused_naming_the_choices() -> None:
    with pytest.raises(NoImpactChosen) as refused:
        priority_from_impacts({t: "none" for t in TYPES}, TABLE, impact_names=NAMES)
    assert refused.value.message == (
        "Choose the impact on at least one of Business, Customers, Sellers or Employees."
    )
    assert refused.value.field == "impacts"


def test_no_impact_at_all_is_refused_and_names_the_type_keys_by_default() -> None:
    with pytest.raises(NoImpactChosen, match="business, customers, employees or sellers"):
        priority_from_impacts({}, TABLE)


def test_all_none_is_refused_even_with_an_override() -> None:
    with pytest.raises(NoImpactChosen):
        priority_from_impacts(
            {"business": "none"}, TABLE, override=Priority.P1, reason="The CEO says so, really"
        )


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(UnknownImpact, match="Unknown impact 'huge' for 'business'"):
        priority_from_impacts({"business": "huge"}, TABLE)


def test_an_override_with_a_reason_wins_and_is_recorded() -> None:
    decision = priority_from_impacts(
        {"business": "low"}, TABLE, override=Priority.P2, reason="  Black Friday traffic  "
    )
    assert decision.priority is Priority.P2
    assert decision.derived is Priority.P4
    assert decision.overridden
    assert decision.reason == "Black Friday traffic"


@pytest.mark.parametrize("reason", [None, "", "too short", "    short     "])
def test_an_override_without_a_reason_of_ten_characters_is_refused(reason: str | None) -> None:
    with pytest.raises(OverrideRefused) as refused:
        priority_from_impacts({"business": "low"}, TABLE, override=Priority.P2, reason=reason)
    assert refused.value.message == "Say why P2 instead of P4 (at least 10 characters)."


def test_an_override_equal_to_the_derived_priority_is_no_override() -> None:
    decision = priority_from_impacts({"business": "low"}, TABLE, override=Priority.P4)
    assert not decision.overridden
    assert decision.reason is None


def test_p1_to_p3_are_critical_and_p4_p5_normal_unless_configured() -> None:
    assert [response_type_for(p) for p in Priority] == [
        ResponseType.CRITICAL,
        ResponseType.CRITICAL,
        ResponseType.CRITICAL,
        ResponseType.NORMAL,
        ResponseType.NORMAL,
    ]
    configured = {Priority.P3: ResponseType.NORMAL, Priority.P4: ResponseType.CRITICAL}
    assert response_type_for(Priority.P3, configured) is ResponseType.NORMAL
    assert response_type_for(Priority.P4, configured) is ResponseType.CRITICAL
    assert response_type_for(Priority.P1, configured) is ResponseType.CRITICAL


@pytest.mark.parametrize("new", [Priority.P1, Priority.P2, Priority.P3])
def test_raising_a_p4_to_p1_p3_makes_it_critical_and_creates_its_channel(new: Priority) -> None:
    change = change_priority(
        incident(Status.INVESTIGATING, priority=Priority.P4), new, now=NOW, reason="Spreading"
    )
    assert change.response_change is ResponseChange.CREATE_CHANNEL
    assert change.incident.priority is new
    assert change.incident.response_type is ResponseType.CRITICAL
    assert change.event.kind is TimelineKind.PRIORITY_CHANGE
    assert change.event.text == f"Priority: P4 → {new.label} (Spreading)"


@pytest.mark.parametrize("new", [Priority.P4, Priority.P5])
def test_lowering_a_p2_to_p4_p5_offers_a_conversion_and_changes_nothing_else(
    new: Priority,
) -> None:
    change = change_priority(incident(Status.INVESTIGATING), new, now=NOW)
    assert change.response_change is ResponseChange.OFFER_CONVERSION
    assert change.incident.priority is new
    assert change.incident.response_type is ResponseType.CRITICAL
    assert change.incident.channel_id == "C42"


def test_a_change_within_the_same_response_type_has_no_response_change() -> None:
    change = change_priority(incident(Status.INVESTIGATING), Priority.P1, now=NOW)
    assert change.response_change is ResponseChange.NONE
    assert change.event.data["from"] == "P2"
    assert change.event.data["to"] == "P1"


def test_changing_to_the_same_priority_is_refused() -> None:
    with pytest.raises(PriorityUnchanged, match="#42 is already P2"):
        change_priority(incident(Status.INVESTIGATING), Priority.P2, now=NOW)


def test_accepting_the_conversion_makes_the_incident_normal() -> None:
    lowered = change_priority(incident(Status.INVESTIGATING), Priority.P4, now=NOW).incident
    converted, event = convert_to_normal(lowered, now=NOW)
    assert converted.response_type is ResponseType.NORMAL
    assert event.kind is TimelineKind.CONVERTED
    with pytest.raises(Exception, match="already tracked without a channel"):
        convert_to_normal(converted, now=NOW)
