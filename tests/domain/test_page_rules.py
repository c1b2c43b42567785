"""Paging rules as values (``bot.page``): keys per incident, service and round, urgency and
auto-paging from the catalog, what a change of the incident means for its pages, the texts."""

from __future__ import annotations

import dataclasses

import pytest

from bot import page
from bot.config import load_catalog
from bot.domain.incident import Priority, ResponseType, Status
from bot.ports import PageRequest
from tests.domain.factories import incident

CATALOG = load_catalog(None)


def test_the_first_round_keeps_the_ports_key_and_later_rounds_add_a_suffix() -> None:
    payments = CATALOG.pagerduty.service("payments")
    first = page.request(CATALOG, incident(id=42), payments)
    third = page.request(CATALOG, incident(id=42), payments, round_=3)
    plain = PageRequest(42, "PPAY001", "t", "d", "")
    assert first.key == plain.key == "firefighter-42-PPAY001"
    assert third.key == "firefighter-42-PPAY001-r3"
    assert first.escalation_policy_id == "PESC001"  # the catalog's, paged instead of the service's


@pytest.mark.parametrize(
    ("priority", "urgency", "auto"),
    [
        (Priority.P1, "high", True),
        (Priority.P2, "high", True),
        (Priority.P3, "low", False),
        (Priority.P5, "low", False),
    ],
)
def test_urgency_and_auto_paging_come_from_the_catalog(
    priority: Priority, urgency: str, auto: bool
) -> None:
    assert page.urgency(CATALOG, priority) == urgency
    assert page.auto_pages(CATALOG, priority) is auto


def test_a_category_pages_its_configured_services_and_services_are_found_by_key_name_or_id() -> (
    None
):
    assert [s.key for s in page.services_of(CATALOG, "payments")] == ["payments"]
    assert page.services_of(CATALOG, "back-office") == []
    assert page.services_of(CATALOG, "no-such-category") == []
    for text in ("sre", "SRE primary", "psre001", " SRE "):
        found = page.find_service(CATALOG, text)
        assert found is not None and found.key == "sre"
    assert page.find_service(CATALOG, "nosuch") is None
    assert page.find_service(CATALOG, "") is None


P2 = incident(priority=Priority.P2, status=Status.INVESTIGATING)


@pytest.mark.parametrize(
    ("before", "after", "meaning"),
    [
        (P2, dataclasses.replace(P2, status=Status.MITIGATED), "resolve"),
        (P2, dataclasses.replace(P2, status=Status.CLOSED), "resolve"),  # closed early
        (dataclasses.replace(P2, status=Status.MITIGATED), P2, "page"),  # reopened
        (dataclasses.replace(P2, priority=Priority.P3), P2, "page"),  # raised into auto
        (P2, dataclasses.replace(P2, priority=Priority.P1), None),  # paged already at P2
        (P2, dataclasses.replace(P2, priority=Priority.P3), None),  # lowered: pages stay
        (
            dataclasses.replace(P2, priority=Priority.P3, status=Status.MITIGATED),
            dataclasses.replace(P2, priority=Priority.P3),
            None,  # a reopened P3 is paged only when asked
        ),
        (
            dataclasses.replace(P2, status=Status.MITIGATED),
            dataclasses.replace(P2, status=Status.POSTMORTEM),
            None,
        ),
    ],
)
def test_what_a_change_means_for_the_pages(before: object, after: object, meaning: str) -> None:
    assert page.pages_on_change(CATALOG, before, after) == meaning  # type: ignore[arg-type]


def test_a_mitigated_incident_cannot_be_paged_and_says_why() -> None:
    assert page.may_be_paged(P2) is None
    refused = page.may_be_paged(dataclasses.replace(P2, status=Status.MITIGATED))
    assert refused is not None and "Reopen it first" in refused


def test_the_page_says_what_is_broken_and_how_to_follow_a_channel_less_incident() -> None:
    normal = incident(
        id=7, priority=Priority.P4, response_type=ResponseType.NORMAL, category="payments"
    )
    details = page.details(CATALOG, normal)
    assert normal.summary in details and "(P4, Payments, PRD)" in details
    assert "no Slack channel" in details
    long = page.title(dataclasses.replace(normal, title="x" * 300))
    assert len(long) == page.TITLE_MAX_LENGTH and long.endswith("…")


def test_the_page_line_names_who_was_notified_and_says_plainly_when_nobody_was() -> None:
    text = page.triggered_text(
        "Payments API",
        3,
        "https://acme.pagerduty.com/incidents/P1",
        "high",
        [("Olive Oncall", "U1"), ("Erin Fox", None)],
        automatic_for="P2",
    )
    assert text == (
        "Paged Payments API (automatic for P2): PagerDuty #3, high urgency. Notified: "
        "Olive Oncall, Erin Fox (no Slack account with their e-mail). "
        "https://acme.pagerduty.com/incidents/P1"
    )
    nobody = page.triggered_text("Checkout", 4, None, "low", [], automatic_for=None)
    assert "Nobody is on call for Checkout right now, so nobody was notified" in nobody
