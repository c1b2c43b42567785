"""What the incident's Jira ticket says, and what a change in Jira means (``bot.ticket``): pure
values, no Jira needed."""

from __future__ import annotations

from datetime import UTC, datetime

from bot import ticket
from bot.config import Catalog, load_catalog
from bot.domain.incident import Priority, Status
from bot.ports import ChangeEntry, ChangeItem, Document, IssueRef, IssueSnapshot
from tests.domain.factories import incident

BOT = "bot-account"
HUMAN = "ada-account"
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def _catalog() -> Catalog:
    return load_catalog(None)


def _entry(
    change_id: int, author: str, *items: ChangeItem, generator: str | None = None
) -> ChangeEntry:
    return ChangeEntry(
        id=change_id,
        author=author,
        author_name="Ada" if author == HUMAN else "FireFighter",
        created=T0,
        generator=generator,
        items=items,
    )


def _item(field: str, to: str) -> ChangeItem:
    return ChangeItem(field=field, from_value=None, from_string=None, to_value=to, to_string=to)


def _snapshot(
    *changes: ChangeEntry, status: str = "In Progress", priority: str = "High"
) -> IssueSnapshot:
    return IssueSnapshot(
        ref=IssueRef("INC-1", "10001", "https://jira.example/browse/INC-1"),
        project="INC",
        issue_type="Incident",
        summary="Checkout fails",
        status=status,
        status_category="indeterminate",
        priority=priority,
        assignee=None,
        assignee_email=None,
        labels=("firefighter",),
        updated=T0,
        changes=changes,
    )


def test_a_ticket_is_routed_to_the_category_project_with_its_issue_type() -> None:
    catalog = _catalog()
    assert ticket.route(catalog, incident(category="payments")) == ("PAY", "Incident")
    assert ticket.route(catalog, incident(category="checkout")) == ("CHK", "Incident")
    security = next(c for c in catalog.categories if c.jira.project == "SEC")
    assert ticket.route(catalog, incident(category=security.key)) == ("SEC", "Security incident")


def test_a_new_ticket_carries_summary_priority_labels_environment_and_mapped_fields() -> None:
    catalog = _catalog()
    fields = ticket.creation_fields(
        catalog,
        incident(custom_fields={"countries": ["FR", "ES"]}),
        ticket.TicketContext(channel_url="https://slack.com/app_redirect?channel=C42"),
    )
    assert fields["summary"] == "Checkout fails for every customer"
    assert fields["priority"] == "High"
    assert fields["labels"] == ("incident", "firefighter", "payments")
    assert fields["components"] == ("Payments",)
    assert fields["customfield_10201"] == ("FR", "ES")
    assert fields["customfield_10200"] == fields["environment"]
    description = fields["description"]
    assert isinstance(description, Document)
    assert "https://slack.com/app_redirect?channel=C42" in description.plain()


def test_only_fields_whose_jira_value_differs_are_written() -> None:
    wanted = {"summary": "Checkout fails", "priority": "Highest", "assignee": None}
    changed = ticket.differences(wanted, _snapshot(priority="High"), "priority")
    assert changed == {"priority": "Highest"}
    assert ticket.differences({"summary": "checkout FAILS "}, _snapshot(), "priority") == {}


def test_changes_by_the_bot_account_or_tagged_as_its_sync_are_not_peoples_changes() -> None:
    snapshot = _snapshot(
        _entry(5, BOT, _item("priority", "High")),
        _entry(6, HUMAN, _item("priority", "High"), generator=ticket.SYNC_GENERATOR),
    )
    changes = ticket.remote_changes(
        snapshot, after=0, bot_account=BOT, priority_field="priority", written={}
    )
    assert changes == []


def test_a_person_changing_the_priority_is_one_change_with_the_current_value() -> None:
    snapshot = _snapshot(
        _entry(7, HUMAN, _item("priority", "Highest")),
        _entry(8, HUMAN, _item("priority", "Low")),
        priority="Low",
    )
    changes = ticket.remote_changes(
        snapshot, after=0, bot_account=BOT, priority_field="priority", written={}
    )
    assert [(c.field, c.value, c.author_name, c.change_id) for c in changes] == [
        (ticket.RemoteField.PRIORITY, "Low", "Ada", 8)
    ]


def test_a_value_equal_to_what_the_bot_last_agreed_is_an_echo() -> None:
    snapshot = _snapshot(_entry(9, HUMAN, _item("priority", "High")), priority="High")
    changes = ticket.remote_changes(
        snapshot, after=0, bot_account=BOT, priority_field="priority", written={"priority": "high"}
    )
    assert changes == []


def test_entries_already_handled_are_skipped() -> None:
    snapshot = _snapshot(_entry(9, HUMAN, _item("status", "Done")), status="Done")
    assert (
        ticket.remote_changes(
            snapshot, after=9, bot_account=BOT, priority_field="priority", written={}
        )
        == []
    )


def test_an_unrelated_field_never_becomes_a_change() -> None:
    snapshot = _snapshot(_entry(10, HUMAN, _item("customfield_10016", "8")))
    assert (
        ticket.remote_changes(
            snapshot, after=0, bot_account=BOT, priority_field="priority", written={}
        )
        == []
    )


def test_a_custom_priority_field_is_read_instead_of_the_standard_one() -> None:
    snapshot = _snapshot(
        _entry(11, HUMAN, _item("priority", "Low")),
        _entry(12, HUMAN, _item("customfield_10100", "P1")),
        priority="P1",
    )
    changes = ticket.remote_changes(
        snapshot, after=0, bot_account=BOT, priority_field="customfield_10100", written={}
    )
    assert [(c.field, c.value) for c in changes] == [(ticket.RemoteField.PRIORITY, "P1")]


def test_a_jira_status_shared_by_two_incident_statuses_moves_forward_only_when_needed() -> None:
    jira = _catalog().jira
    assert (
        ticket.incident_status_for(jira, "INC", "In Progress", Status.OPEN) is Status.INVESTIGATING
    )
    assert ticket.incident_status_for(jira, "INC", "in progress", Status.MITIGATING) is None
    assert ticket.incident_status_for(jira, "INC", "Done", Status.MITIGATED) is Status.CLOSED
    assert ticket.incident_status_for(jira, "INC", "Blocked", Status.OPEN) is None


def test_a_project_override_maps_its_own_statuses() -> None:
    jira = _catalog().jira
    assert ticket.incident_status_for(jira, "SEC", "Contained", Status.MITIGATING) is (
        Status.MITIGATED
    )
    assert ticket.target_status(jira, "SEC", Status.CLOSED) == "Resolved"
    assert ticket.target_status(jira, "INC", Status.CLOSED) == "Done"


def test_jira_priority_names_map_back_to_incident_priorities() -> None:
    jira = _catalog().jira
    assert ticket.priority_for(jira, "highest") is Priority.P1
    assert ticket.priority_for(jira, "Unknown") is None
    assert ticket.priority_name(jira, Priority.P3) == "Medium"
