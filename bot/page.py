"""Paging on-call through PagerDuty, as values: which services an incident pages, with which
urgency and key, what the page says, and what a change of the incident means for its pages. No I/O
here; ``bot.page_effects`` talks to PagerDuty and ``bot.page_pull`` reads what responders did.

Keys. One PagerDuty incident per (incident, service) and *round*: the first page of a service for
an incident is keyed ``firefighter-<incident id>-<service id>`` (``PageRequest.key``), so a repeat
(a double click, Slack redelivering the command, a restart while PagerDuty was answering) finds
the PagerDuty incident instead of opening a second one, even after it was resolved. A page is
resolved when the incident is mitigated; if the incident is reopened and on-call is paged again,
that is a new round with a new key (``…-r2``): a resolved PagerDuty incident is history, and
re-triggering it would mix two responses in one PagerDuty timeline.

When paging happens:

- at declaration, for the priorities of ``pagerduty.auto_page_priorities``: every service of the
  category;
- when the priority is raised into those priorities, or an incident of those priorities is
  reopened: the category's services again (a new round where the last page was resolved);
- on demand, ``/incident page [service]``, for any configured service, any priority.

Pages are resolved when the incident reaches Mitigated (or is closed early).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.config import Catalog, PagerDutyService
from bot.domain.incident import Incident, Priority, ResponseType
from bot.ports import OnCall, PageRequest

PAGE = "pagerduty.page"
RESOLVE = "pagerduty.resolve"
KINDS = frozenset({PAGE, RESOLVE})

DESCRIPTIONS = {
    PAGE: "page on-call in PagerDuty",
    RESOLVE: "resolve the PagerDuty incidents FireFighter opened",
}

TITLE_MAX_LENGTH = 255
"""What PagerDuty keeps of an incident title."""
SLACK_CHANNEL_LINK = "https://slack.com/app_redirect?channel={channel_id}"


@dataclass(frozen=True, slots=True)
class Page(PageRequest):
    """A ``PageRequest`` of a given round: round 1 keeps the port's key, later rounds (a page
    after the previous one was resolved) add ``-r<round>``."""

    round: int = 1

    @property
    def key(self) -> str:
        return page_key(self.incident_id, self.service_id, self.round)


def page_key(incident_id: int, service_id: str, round_: int = 1) -> str:
    base = f"firefighter-{incident_id}-{service_id}"
    return base if round_ <= 1 else f"{base}-r{round_}"


def channel_link(channel_id: str | None) -> str:
    """A link to the incident channel that works from any Slack workspace (empty: none yet)."""
    return SLACK_CHANNEL_LINK.format(channel_id=channel_id) if channel_id else ""


def services_of(catalog: Catalog, category: str) -> list[PagerDutyService]:
    """The services a category pages (``categories[].pagerduty_services``), in catalog order."""
    try:
        keys = catalog.category(category).pagerduty_services
    except KeyError:
        return []
    found = []
    for key in keys:
        try:
            found.append(catalog.pagerduty.service(key))
        except KeyError:
            continue
    return found


def find_service(catalog: Catalog, text: str) -> PagerDutyService | None:
    """A configured service by key, name or PagerDuty id (case-insensitive)."""
    wanted = text.strip().casefold()
    if not wanted:
        return None
    for service in catalog.pagerduty.services:
        names = {service.key, service.name, service.service_id}
        if wanted in {n.casefold() for n in names if n}:
            return service
    return None


def service_name(service: PagerDutyService) -> str:
    return service.name or service.key


def urgency(catalog: Catalog, priority: Priority) -> str:
    """PagerDuty's urgency for the priority (``pagerduty.urgency``; high when unmapped)."""
    mapped = catalog.pagerduty.urgency.items()
    return next((str(value) for key, value in mapped if key == priority.label), "high")


def auto_pages(catalog: Catalog, priority: Priority) -> bool:
    return priority.label in catalog.pagerduty.auto_page_priorities


def may_be_paged(incident: Incident) -> str | None:
    """Why on-call cannot be paged for the incident now (None: it can)."""
    if incident.status.is_mitigated_or_later:
        return (
            f"{incident.reference} is {incident.status.label}: on-call is paged for incidents "
            "still being worked on. Reopen it first if the problem is back."
        )
    return None


def pages_on_change(catalog: Catalog, before: Incident, after: Incident) -> str | None:
    """What a change of the incident means for its pages: ``"resolve"`` (it reached Mitigated
    or was closed), ``"page"`` (its category's services should be paged now: raised into an
    auto-paged priority, or reopened at one), or None."""
    if after.status.is_mitigated_or_later:
        return "resolve" if not before.status.is_mitigated_or_later else None
    if not auto_pages(catalog, after.priority):
        return None
    reopened = before.status.is_mitigated_or_later
    raised = not auto_pages(catalog, before.priority)
    return "page" if reopened or raised else None


def title(incident: Incident) -> str:
    """What PagerDuty shows as the incident's title. Everyone with a PagerDuty account reads it,
    so a private incident's says only that it is private (its responders are invited to the
    channel, where the details are)."""
    what = "Private incident" if incident.private else incident.title
    text = f"[{incident.priority.label}] {incident.reference} {what}"
    return text if len(text) <= TITLE_MAX_LENGTH else text[: TITLE_MAX_LENGTH - 1] + "…"


def details(catalog: Catalog, incident: Incident) -> str:
    """The PagerDuty incident's body: what is broken and where to go (the adapter appends the
    Slack channel link)."""
    try:
        category = catalog.category(incident.category).name
    except KeyError:
        category = incident.category
    lines = [
        # A private incident's summary stays in its private channel (PRODUCT.md §5).
        "A private incident: the details are in its Slack channel."
        if incident.private
        else incident.summary,
        "",
        f"Declared in Slack with FireFighter as {incident.reference} "
        f"({incident.priority.label}, {category}, {', '.join(incident.environments)}).",
    ]
    if incident.response_type is ResponseType.NORMAL:
        lines.append("This incident has no Slack channel: follow it from FireFighter's App Home.")
    return "\n".join(lines)


def request(
    catalog: Catalog, incident: Incident, service: PagerDutyService, *, round_: int = 1
) -> Page:
    return Page(
        incident_id=incident.id,
        service_id=service.service_id,
        title=title(incident),
        details=details(catalog, incident),
        channel_url=channel_link(incident.channel_id),
        urgency=urgency(catalog, incident.priority),
        escalation_policy_id=service.escalation_policy_id,
        round=round_,
    )


def resolution(incident: Incident) -> str:
    return f"{incident.reference} is {incident.status.label} in Slack (FireFighter)."


def names(people: Sequence[tuple[str, str | None]]) -> str:
    """``Alice Martin, Erin Fox (no Slack account with their e-mail)`` from (name, Slack id)
    pairs; "nobody" when empty. Plain text: the channel line and the timeline escape it."""
    shown = [
        name if slack else f"{name} (no Slack account with their e-mail)" for name, slack in people
    ]
    return ", ".join(shown) if shown else "nobody"


@dataclass(frozen=True, slots=True)
class ServiceOnCall:
    """Who is on call now for one configured service, as ``/incident oncall`` shows it."""

    service: PagerDutyService
    on_call: OnCall | None
    """None when PagerDuty could not say (``problem`` tells why)."""
    slack_ids: Mapping[str, str | None] = field(default_factory=dict)
    """E-mail (lower-case) → the Slack user with that e-mail, None when there is none."""
    problem: str | None = None

    def slack_id(self, email: str) -> str | None:
        return self.slack_ids.get(email.casefold())


@dataclass(frozen=True, slots=True)
class PageView:
    """A page as people are told about it."""

    service: str
    status: str
    new: bool
    """False when the service was paged already (the request changed nothing)."""
    number: int | None = None
    url: str | None = None
    acknowledged_by: str | None = None

    @property
    def reference(self) -> str:
        return f"PagerDuty #{self.number}" if self.number else "PagerDuty"


def pager_problem(error: Exception) -> str:
    """A PagerDuty failure in words for people (``PagerError`` codes)."""
    code = getattr(error, "code", "")
    if code == "unknown_service":
        return "PagerDuty has no such service (check `pagerduty.services` with `firefighter check`)"
    if code == "forbidden":
        return "PagerDuty refused FireFighter's credentials"
    if code in {"ratelimited", "unavailable", "network"}:
        return "PagerDuty is not answering right now; try again in a moment"
    return f"PagerDuty refused: {error}"


def triggered_text(
    service: str,
    number: int | None,
    url: str | None,
    urgency_: str,
    responders: Sequence[tuple[str, str | None]],
    *,
    automatic_for: str | None,
) -> str:
    """The timeline entry and channel line of a page PagerDuty opened (plain text: both are
    escaped where they are shown)."""
    reference = f"PagerDuty #{number}" if number else "a PagerDuty incident"
    why = f" (automatic for {automatic_for})" if automatic_for else ""
    head = f"Paged {service}{why}: {reference}, {urgency_} urgency."
    link = f" {url}" if url else ""
    if not responders:
        return (
            f"{head} Nobody is on call for {service} right now, so nobody was notified: "
            f"escalate in PagerDuty or call someone.{link}"
        )
    return f"{head} Notified: {names(responders)}.{link}"
