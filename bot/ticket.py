"""The incident's Jira ticket, as values: what the ticket should say (incident → Jira), and what a
change made in Jira means for the incident (Jira → incident). No I/O here; ``bot.ticket_effects``
writes to Jira and ``bot.ticket_pull`` reads from it.

Loop prevention (PRODUCT.md §4, INTEGRATION_NOTES §4.6) has three guards, all decided here:
changelog entries authored by the bot's own account or tagged with ``SYNC_GENERATOR`` are not
changes made by people; a value equal to what the bot itself last wrote is an echo; and the bot
writes a field only when Jira's value differs from the incident's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.config import Catalog, JiraSection
from bot.domain.incident import Incident, Priority, Status
from bot.ports import ChangeEntry, Document, FieldValue, Inline, IssueSnapshot, Link

OPEN = "jira.open"
SYNC = "jira.sync"
ATTACH = "jira.attach"
FOLLOWUP = "jira.followup"
KINDS = frozenset({OPEN, SYNC, ATTACH, FOLLOWUP})

DESCRIPTIONS = {
    OPEN: "open the incident's Jira ticket",
    SYNC: "update the incident's Jira ticket",
    ATTACH: "attach the file to the Jira ticket",
    FOLLOWUP: "create the follow-up in Jira",
}

REQUIRED = frozenset({"project", "issuetype", "summary"})
"""Fields without which Jira cannot open an issue (others may be dropped when Jira refuses them)."""
SYNC_GENERATOR = "firefighter:sync"
"""``historyMetadata.type`` of every write the bot makes (the adapter sets it)."""
FOLLOWUP_LABEL = "firefighter-followup"
DESCRIPTION_KEY = "description#"
"""``Ticket.written`` key holding a digest of the description the bot last wrote."""


def marker(incident_id: int) -> str:
    """The label unique to an incident's ticket: a retried creation finds the issue by it."""
    return f"firefighter-incident-{incident_id}"


def followup_marker(followup_id: int) -> str:
    return f"firefighter-followup-{followup_id}"


def wants_ticket(catalog: Catalog, incident: Incident) -> bool:
    return incident.priority.label in catalog.jira.create_for_priorities and (
        route(catalog, incident) is not None
    )


def route(catalog: Catalog, incident: Incident) -> tuple[str, str] | None:
    """``(project, issue type)`` of the incident's ticket: the category's, else the defaults;
    None when no project is configured for it."""
    jira = catalog.jira
    try:
        routing = catalog.category(incident.category).jira
    except KeyError:
        routing = None
    project = (routing.project if routing else None) or jira.default_project
    if project is None:
        return None
    override = jira.projects.get(project)
    issue_type = (
        (routing.issue_type if routing else None)
        or (override.issue_type if override else None)
        or jira.issue_type
    )
    return project, issue_type


def discloses(catalog: Catalog, incident: Incident) -> bool:
    """Whether the ticket may say what the incident is about. A private incident is visible only
    to its members and the incident managers (PRODUCT.md §5): in a project whose issues others
    can read, its ticket is neutral ("Private incident #N", no summary, no channel name); only a
    project the catalog marks ``restricted`` gets the real title and summary."""
    if not incident.private:
        return True
    routed = route(catalog, incident)
    project = catalog.jira.projects.get(routed[0]) if routed else None
    return project is not None and project.restricted


def title(catalog: Catalog, incident: Incident) -> str:
    """The ticket's summary: the incident's title, unless the ticket must not disclose it."""
    if discloses(catalog, incident):
        return incident.title
    return f"Private incident {incident.reference}"


def channel_label(catalog: Catalog, incident: Incident) -> str:
    """How the ticket names the incident's channel (a private one's name says what it is about)."""
    if discloses(catalog, incident) and incident.channel_name:
        return f"Slack channel #{incident.channel_name}"
    return "Slack channel"


@dataclass(frozen=True, slots=True)
class TicketContext:
    """What the ticket says beyond the incident itself."""

    channel_url: str | None = None
    incident_url: str | None = None
    commander: str | None = None
    """The commander's Slack user id."""
    commander_account: str | None = None
    """The commander's Jira account, when their e-mail matches one."""
    declared_by_name: str | None = None


def description(catalog: Catalog, incident: Incident, context: TicketContext) -> Document:
    links: list[Inline] = []
    if context.channel_url:
        links += [Link(channel_label(catalog, incident), context.channel_url)]
    if context.incident_url:
        links += [" · " if links else "", Link("Incident in Slack", context.incident_url)]
    # The priority is a field of its own: repeating it here would rewrite the description on
    # every priority change.
    facts = (
        f"Category {_category_name(catalog, incident)} · "
        f"environments {', '.join(incident.environments) or '—'}"
    )
    if not discloses(catalog, incident):
        return Document.of(
            "A private incident: its details are only in its Slack channel, for its members.",
            [p for p in links if p],
            f"Declared in Slack as {incident.reference}. Status, priority and commander are kept "
            "in step with Slack by FireFighter.",
        )
    return Document.of(
        incident.summary or incident.title,
        facts,
        [p for p in links if p],
        f"Declared in Slack as {incident.reference}. Status, priority, title and commander are "
        "kept in step with Slack by FireFighter.",
    )


def followup_description(
    catalog: Catalog, incident: Incident, parent: object | None, text: str
) -> Document:
    """A follow-up issue's description: what to do and the incident it comes from (named by its
    ticket title: a private incident's stays neutral where it must)."""
    key = getattr(parent, "key", None)
    origin = f"incident {incident.reference} ({title(catalog, incident)})"
    return Document.of(
        text,
        f"Follow-up action of {origin}" + (f", ticket {key}." if key else "."),
        "Created from Slack with FireFighter; it is tracked until it is done.",
    )


def _category_name(catalog: Catalog, incident: Incident) -> str:
    try:
        return catalog.category(incident.category).name
    except KeyError:
        return incident.category


def labels(catalog: Catalog, incident: Incident) -> tuple[str, ...]:
    try:
        extra = catalog.category(incident.category).jira.labels
    except KeyError:
        extra = []
    return tuple(dict.fromkeys([*catalog.jira.labels, *extra]))


def environment_text(catalog: Catalog, incident: Incident) -> str:
    names = []
    for key in incident.environments:
        try:
            names.append(catalog.environment(key).name)
        except KeyError:
            names.append(key)
    return ", ".join(names)


def _source_value(
    catalog: Catalog, incident: Incident, source: str, context: TicketContext
) -> FieldValue:
    values: dict[str, FieldValue] = {
        "environment": environment_text(catalog, incident) or None,
        "category": _category_name(catalog, incident),
        "incident_id": str(incident.id),
        "incident_url": context.incident_url,
        "channel_url": context.channel_url,
        "commander": context.commander_account,
        "started_at": (
            incident.milestones.started_at.isoformat() if incident.milestones.started_at else None
        ),
        "impacts": None,
    }
    try:
        category = catalog.category(incident.category)
        values["group"] = catalog.group(category.group).name
        values["team"] = category.jira.team
    except KeyError:
        values["group"] = values["team"] = None
    if source in values:
        return values[source]
    value = incident.custom_fields.get(source)
    if value is None or isinstance(value, str | float | int):
        return value if not isinstance(value, int) else float(value)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return str(value)


def synced_fields(
    catalog: Catalog, incident: Incident, context: TicketContext
) -> dict[str, FieldValue]:
    """The fields kept in step with the incident after creation: title, priority, commander."""
    jira = catalog.jira
    fields: dict[str, FieldValue] = {
        "summary": title(catalog, incident),
        jira.priority_field: priority_name(jira, incident.priority),
    }
    if context.commander_account is not None:
        fields["assignee"] = context.commander_account
    return fields


def creation_fields(
    catalog: Catalog, incident: Incident, context: TicketContext
) -> dict[str, FieldValue]:
    """Every field of a new ticket (the adapter adds its sync label and the marker)."""
    fields: dict[str, FieldValue] = {
        **synced_fields(catalog, incident, context),
        "description": description(catalog, incident, context),
        "labels": labels(catalog, incident),
    }
    env = environment_text(catalog, incident)
    if env:
        fields["environment"] = env
    try:
        components = catalog.category(incident.category).jira.components
    except KeyError:
        components = []
    if components:
        fields["components"] = tuple(components)
    for field_id, source in catalog.jira.field_mapping.items():
        value = _source_value(catalog, incident, source, context)
        if value is not None:
            fields[field_id] = value
    return fields


def digest(document: Document) -> str:
    return hashlib.sha256(document.plain().encode()).hexdigest()[:16]


def differences(
    wanted: Mapping[str, FieldValue], snapshot: IssueSnapshot, priority_field: str
) -> dict[str, FieldValue]:
    """The synced fields whose Jira value differs from the incident's (only those are written)."""
    current: dict[str, FieldValue] = {
        "summary": snapshot.summary,
        priority_field: snapshot.priority,
        "assignee": snapshot.assignee,
    }
    changed: dict[str, FieldValue] = {}
    for field_id, value in wanted.items():
        if field_id not in current:
            continue
        have = current[field_id]
        if isinstance(value, str) and isinstance(have, str):
            if value.strip().casefold() == have.strip().casefold():
                continue
        elif value == have:
            continue
        changed[field_id] = value
    return changed


def target_status(jira: JiraSection, project: str, status: Status) -> str | None:
    return jira.status_for(project, status.value)


# ---------------------------------------------------------------------------------------------
# Jira → incident
# ---------------------------------------------------------------------------------------------


class RemoteField(StrEnum):
    STATUS = "status"
    PRIORITY = "priority"
    ASSIGNEE = "assignee"


@dataclass(frozen=True, slots=True)
class RemoteChange:
    """A change a person made in Jira that the incident should follow."""

    field: RemoteField
    value: str | None
    """The Jira status or priority name, or the assignee's account id."""
    display: str | None
    """What people read (the status, priority or assignee name)."""
    author: str | None
    author_name: str | None
    change_id: int


def by_people(entries: Sequence[ChangeEntry], *, after: int, bot_account: str) -> list[ChangeEntry]:
    """Changelog entries newer than ``after`` made by people (not by the bot's account, not
    tagged as the bot's sync)."""
    return [
        entry
        for entry in entries
        if entry.id > after and entry.author != bot_account and entry.generator != SYNC_GENERATOR
    ]


def remote_changes(
    snapshot: IssueSnapshot,
    *,
    after: int,
    bot_account: str,
    priority_field: str,
    written: Mapping[str, object],
) -> list[RemoteChange]:
    """What people changed in Jira since the change ``after``, one per field (the issue's
    current value, as several edits in one window end where the last one left it). A value
    equal to what the bot itself last wrote is an echo and is dropped."""
    touched: dict[RemoteField, ChangeEntry] = {}
    wanted_ids = {
        RemoteField.STATUS: {"status"},
        RemoteField.PRIORITY: {priority_field, "priority"}
        if priority_field == "priority"
        else {priority_field},
        RemoteField.ASSIGNEE: {"assignee"},
    }
    for entry in by_people(snapshot.changes, after=after, bot_account=bot_account):
        for item in entry.items:
            for remote, ids in wanted_ids.items():
                if item.field in ids:
                    touched[remote] = entry
    current: dict[RemoteField, tuple[str | None, str | None]] = {
        RemoteField.STATUS: (snapshot.status, snapshot.status),
        RemoteField.PRIORITY: (snapshot.priority, snapshot.priority),
        RemoteField.ASSIGNEE: (snapshot.assignee, snapshot.assignee_email or snapshot.assignee),
    }
    written_key = {
        RemoteField.STATUS: "status",
        RemoteField.PRIORITY: priority_field,
        RemoteField.ASSIGNEE: "assignee",
    }
    changes = []
    for remote, entry in touched.items():
        value, display = current[remote]
        last_written = written.get(written_key[remote])
        if isinstance(last_written, str) and isinstance(value, str):
            if last_written.casefold() == value.casefold():
                continue
        elif last_written == value and last_written is not None:
            continue
        changes.append(
            RemoteChange(
                field=remote,
                value=value,
                display=display,
                author=entry.author,
                author_name=entry.author_name,
                change_id=entry.id,
            )
        )
    return sorted(changes, key=lambda c: list(RemoteField).index(c.field))


def incident_status_for(
    jira: JiraSection, project: str, jira_status: str, current: Status
) -> Status | None:
    """The incident status a Jira status stands for; None when it maps to none, or when the
    incident's status already maps to it (``In Progress`` is both Investigating and Mitigating)."""
    wanted = jira_status.casefold()
    candidates = [
        status
        for status in Status
        if (target_status(jira, project, status) or "").casefold() == wanted
    ]
    if not candidates or current in candidates:
        return None
    later = [s for s in candidates if s.order > current.order]
    return later[0] if later else candidates[0]


def priority_name(jira: JiraSection, priority: Priority) -> str | None:
    """The Jira priority (or option) name of an incident priority."""
    return next((v for k, v in jira.priority_mapping.items() if k == priority.label), None)


def priority_for(jira: JiraSection, name: str | None) -> Priority | None:
    if not name:
        return None
    for key, mapped in jira.priority_mapping.items():
        if mapped.casefold() == name.casefold():
            return Priority.parse(key)
    return None
