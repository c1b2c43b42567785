"""Small typed Protocols the service needs; adapters in ``integrations/`` implement them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol


class Clock(Protocol):
    """Time is injected (ARCHITECTURE principle 7); storage and logic take ``now`` from here."""

    def now(self) -> datetime:
        """The current time, tz-aware UTC."""
        ...


class IntegrationError(Exception):
    """A call to Slack, Jira, PagerDuty or Confluence failed. ``code`` names the failure
    (``ratelimited`` for a 429 with ``retry_after`` seconds, ``network`` when the service could not
    be reached…); ``transient`` says whether trying again later may succeed. The outbox worker
    retries transient failures (honouring ``retry_after``) and reports the others."""

    def __init__(
        self,
        code: str,
        *,
        method: str = "",
        retry_after: float | None = None,
        transient: bool,
        detail: str = "",
    ) -> None:
        text = f"{method}: {code}" if method else code
        super().__init__(f"{text} ({detail})" if detail else text)
        self.code = code
        self.method = method
        self.retry_after = retry_after
        self.transient = transient
        self.detail = detail


class ChatError(IntegrationError):
    """A Slack call failed. ``code`` is Slack's error code (``name_taken``…), ``ratelimited`` for a
    429 (with ``retry_after`` seconds) or ``network`` when Slack could not be reached."""


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    id: str
    name: str
    creator: str | None = None
    is_archived: bool = False
    is_private: bool = False


Message = Mapping[str, Any]
"""A Slack message body: ``text`` and optionally ``blocks`` (what the Block Kit builders return)."""


class Chat(Protocol):
    """What the bot does in Slack, by capability (``integrations.slack.SlackChat`` implements it)."""

    bot_user_id: str

    async def create_channel(self, name: str, *, private: bool) -> str: ...
    async def find_channel(self, name: str) -> ChannelInfo | None: ...
    async def invite(self, channel_id: str, user_ids: Sequence[str]) -> dict[str, str]:
        """Invite everyone possible; returns ``{user_id: error}`` for those who could not be."""
        ...

    async def set_topic(self, channel_id: str, topic: str) -> None: ...
    async def post(
        self,
        channel_id: str,
        message: Message,
        *,
        thread_ts: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str: ...
    async def update(self, channel_id: str, ts: str, message: Message) -> None: ...
    async def pin(self, channel_id: str, ts: str) -> None: ...
    async def delete(self, channel_id: str, ts: str) -> None: ...
    async def archive(self, channel_id: str) -> None: ...
    async def unarchive(self, channel_id: str) -> None: ...
    async def join(self, channel_id: str) -> None: ...
    async def channel_info(self, channel_id: str) -> ChannelInfo | None:
        """None when the channel does not exist (any more)."""
        ...

    async def add_bookmark(self, channel_id: str, title: str, link: str) -> None: ...
    async def find_message(
        self, channel_id: str, event_type: str, incident_id: int, *, oldest: str | None = None
    ) -> str | None:
        """The ts of the bot's message carrying this metadata (recovering after a crash)."""
        ...

    async def topic_notices(self, channel_id: str, *, oldest: str | None = None) -> list[str]:
        """The ts of the "set the channel topic" notices the bot's own topic changes left."""
        ...

    async def dm(self, user_id: str, message: Message) -> str: ...
    async def ephemeral(self, channel_id: str, user_id: str, message: Message) -> None: ...
    async def permalink(self, channel_id: str, ts: str) -> str | None: ...
    async def resolve_channel(self, reference: str) -> str | None: ...
    async def resolve_user(self, reference: str) -> str | None: ...
    async def usergroup_members(self, reference: str) -> list[str]:
        """The members of a user group (id or handle), empty when it has none or does not exist.
        Adapters may cache the answer, empty ones included, until ``forget_usergroups``."""
        ...

    def forget_usergroups(self) -> None:
        """Slack said a user group was created or changed (``subteam_*`` events): the next
        ``usergroup_members`` asks Slack again."""
        ...

    async def user_by_email(self, email: str) -> str | None:
        """The active Slack user with this e-mail (someone known to Jira or PagerDuty); None
        when there is none."""
        ...

    async def user_email(self, user_id: str) -> str | None:
        """The e-mail of a Slack user's profile (None when hidden, unknown or deactivated):
        how people are matched with their Jira and PagerDuty accounts."""
        ...

    async def upload(
        self,
        channel_id: str,
        filename: str,
        content: bytes,
        *,
        title: str,
        comment: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Share a file in a conversation (Slack's external upload flow); returns its file id."""
        ...

    async def file_content(self, file_id: str) -> tuple[str, bytes]:
        """A file shared in Slack: its name and its bytes (``files.info`` + ``url_private``)."""
        ...

    async def dm_channel(self, user_id: str) -> str:
        """The id of the bot's direct-message conversation with ``user_id``."""
        ...


# ---------------------------------------------------------------------------------------------------
# Tracker (Jira): the incident ticket, its sync both ways, follow-ups.
# ---------------------------------------------------------------------------------------------------


class TrackerError(IntegrationError):
    """A Jira call failed. Codes:

    - ``not_found`` (404: the issue, project or transition does not exist, e.g. a ticket deleted
      in Jira), ``forbidden`` (401/403), ``gone`` (410);
    - ``invalid`` (400): ``field_errors`` maps Jira field ids to Jira's message
      (``{"customfield_10100": "Option id 'P9' is not valid"}``), ``detail`` has the rest;
    - ``no_transition``: the workflow offers no path from the issue's status to the target;
    - transient: ``ratelimited`` (429, ``retry_after`` from ``Retry-After``), ``unavailable``
      (5xx), ``network`` (timeout, connection refused)."""

    def __init__(
        self,
        code: str,
        *,
        method: str = "",
        retry_after: float | None = None,
        transient: bool,
        detail: str = "",
        field_errors: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            code, method=method, retry_after=retry_after, transient=transient, detail=detail
        )
        self.field_errors: Mapping[str, str] = dict(field_errors or {})


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    url: str


Inline = str | Link
"""A piece of a paragraph: plain text, or a link."""


@dataclass(frozen=True, slots=True)
class Document:
    """Rich text for Jira's text fields (description, environment, comments): paragraphs of plain
    text and links. The adapter renders it as ADF (REST v3) or wiki markup (REST v2)."""

    paragraphs: tuple[tuple[Inline, ...], ...]

    @classmethod
    def of(cls, *paragraphs: str | Sequence[Inline]) -> Document:
        return cls(tuple((p,) if isinstance(p, str) else tuple(p) for p in paragraphs if p))

    def plain(self) -> str:
        """The text with links as ``text (url)``, paragraphs separated by blank lines."""
        return "\n\n".join(
            "".join(i if isinstance(i, str) else f"{i.text} ({i.url})" for i in paragraph)
            for paragraph in self.paragraphs
        )


FieldValue = str | float | Document | tuple[str, ...] | None
"""A value for a Jira field, by meaning; the adapter shapes it from the field's schema:
a ``priority`` field or an option field takes a name (``{"name": …}`` / ``{"value": …}``), a user
field an account id (``{"accountId": …}``, ``{"name": …}`` on Data Center), a labels or
multi-select field a tuple, a text field a ``str`` or ``Document`` (ADF on v3), a number a float.
``None`` clears the field."""


@dataclass(frozen=True, slots=True)
class IssueRef:
    key: str
    id: str
    url: str
    """The issue's page for people: ``<site>/browse/<key>``."""


@dataclass(frozen=True, slots=True)
class ChangeItem:
    field: str
    """The field id (``status``, ``priority``, ``assignee``, ``customfield_10100``…); the field
    name when Jira sent no id."""
    from_value: str | None
    from_string: str | None
    to_value: str | None
    """Jira's raw ``to`` (a status or priority id, an account id), may be None."""
    to_string: str | None
    """What people read (``In Progress``, ``High``, a display name)."""


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    """One history entry of an issue's changelog."""

    id: int
    author: str | None
    """The author's account id (the user ``name``/``key`` on Data Center)."""
    author_name: str | None
    created: datetime
    generator: str | None
    """``historyMetadata.type`` of the write, e.g. ``firefighter:sync`` for the bot's own."""
    items: tuple[ChangeItem, ...]


@dataclass(frozen=True, slots=True)
class IssueSnapshot:
    """An issue as Jira has it now, with the fields the bot syncs."""

    ref: IssueRef
    project: str
    issue_type: str
    summary: str
    status: str
    status_category: str
    """``new``, ``indeterminate`` or ``done`` (Jira's status categories)."""
    priority: str | None
    """The priority name, read from the configured priority field (or the option's value)."""
    assignee: str | None
    """The assignee's account id (user name on Data Center)."""
    assignee_email: str | None
    labels: tuple[str, ...]
    updated: datetime
    due: date | None = None
    changes: tuple[ChangeEntry, ...] = ()
    """Changelog entries, oldest first (filled by ``search_updated``, ``issue(..., changes=True)``)."""


@dataclass(frozen=True, slots=True)
class FieldInfo:
    id: str
    name: str
    type: str
    """The schema type: ``string``, ``priority``, ``option``, ``array``, ``user``, ``number``…"""
    custom: str | None = None
    """The custom field type (``…:textarea``, ``…:select``), None for system fields."""
    options: tuple[str, ...] = ()
    """Allowed values of an option field, when Jira lists them (empty: unknown)."""


@dataclass(frozen=True, slots=True)
class ProjectInfo:
    key: str
    name: str
    issue_types: tuple[str, ...]
    statuses: tuple[str, ...]
    """Every status the project's workflows use (for any issue type)."""


class Tracker(Protocol):
    """What the bot does in Jira, by capability (``integrations.jira.JiraTracker`` implements
    it). Every method raises ``TrackerError``; none retries on its own beyond one connection
    attempt (backoff is the outbox's)."""

    site_url: str
    sync_label: str
    """The label every issue the bot opens carries (its pull searches on it)."""

    async def account_id(self) -> str:
        """The bot's own account id (``/myself``; the user name on Data Center), cached."""
        ...

    async def create_issue(
        self,
        project: str,
        issue_type: str,
        fields: Mapping[str, FieldValue],
        *,
        marker: str,
    ) -> IssueRef:
        """Create an issue (``summary``, ``description``, ``labels``… in ``fields``). ``marker``
        is a label unique to this intent, added to the labels, so ``find_by_label`` finds the
        issue if the answer was lost."""
        ...

    async def find_by_label(self, label: str) -> IssueRef | None: ...

    async def issue(self, key: str, *, changes: bool = False) -> IssueSnapshot | None:
        """The issue now; None when it does not exist (deleted in Jira)."""
        ...

    async def update_issue(self, key: str, fields: Mapping[str, FieldValue]) -> None:
        """Set these fields, tagging the write ``historyMetadata.type = firefighter:sync``."""
        ...

    async def transition_to(self, key: str, status: str) -> tuple[str, ...]:
        """Walk the workflow's transitions until the issue is in ``status`` (several steps when
        needed); returns the statuses passed through, empty when it already was there. Raises
        ``TrackerError("no_transition")`` when no path exists from where it is."""
        ...

    async def search_updated(
        self, since: datetime, *, labels: Sequence[str], page_size: int = 100
    ) -> list[IssueSnapshot]:
        """Issues carrying any of ``labels`` updated at or after ``since`` (JQL has minute
        granularity: the adapter rounds down), with their changelog, every page."""
        ...

    async def add_comment(self, key: str, body: Document) -> None: ...

    async def link_issues(self, inward: str, outward: str, *, link_type: str = "Relates") -> None:
        """Link two issues (``inward`` ← ``outward``, e.g. an incident ticket and a follow-up)."""
        ...

    async def add_remote_link(self, key: str, url: str, title: str) -> None:
        """A web link on the issue (the Slack channel, the post-mortem); same url twice: updated."""
        ...

    async def attach(self, key: str, filename: str, content: bytes) -> None: ...

    async def account_for_email(self, email: str) -> str | None:
        """The Jira account id of a person, found by e-mail (None if there is no match)."""
        ...

    async def fields(self) -> dict[str, FieldInfo]:
        """Every field of the site by id (``firefighter check`` and value shaping)."""
        ...

    async def priorities(self) -> tuple[str, ...]: ...

    async def project(self, key: str) -> ProjectInfo | None: ...

    async def close(self) -> None:
        """Release the thread pool and connections."""
        ...


# ---------------------------------------------------------------------------------------------------
# --- Docs (Confluence) ---
# The post-mortem page: created once in the configured space, re-synced, its "ready" label read.
# ---------------------------------------------------------------------------------------------------


class DocsError(IntegrationError):
    """A Confluence call failed. Codes:

    - ``not_found`` (404: the space, page or parent does not exist, or the bot may not see it;
      Confluence answers 404 for both), ``forbidden`` (401/403: bad credentials, or the bot may
      read but not edit);
    - ``invalid`` (400 and other 4xx): e.g. a storage body that is not well-formed XHTML, a label
      Confluence refuses; ``detail`` has Confluence's message;
    - ``conflict``: the page moved on under the bot — Confluence's 409 on a stale version, or the
      page no longer at the ``if_version`` the caller based its change on. Transient only when no
      ``if_version`` was given (a retry re-reads the page and applies the change on top);
    - transient: ``ratelimited`` (429, ``retry_after`` from ``Retry-After``), ``unavailable``
      (5xx), ``network`` (timeout, connection refused)."""


@dataclass(frozen=True, slots=True)
class PageRef:
    id: str
    title: str
    url: str
    """The page for people: Confluence's ``_links.base`` + ``_links.webui``
    (``<site>/wiki/spaces/<KEY>/pages/<id>/<Title>``)."""
    version: int
    created: bool = False
    """True only when the call that returned this ref created the page; False when the page was
    there already (found by its title)."""


@dataclass(frozen=True, slots=True)
class PageSnapshot:
    """A page as Confluence has it now."""

    ref: PageRef
    space_id: str
    parent_id: str | None
    body: str
    """The body in storage format (Confluence's XHTML)."""
    labels: tuple[str, ...]
    """The page's ``global`` labels (those people add in the UI), lower-case as Confluence keeps them."""


class Docs(Protocol):
    """What the bot does in Confluence, by capability (``integrations.confluence.ConfluenceDocs``
    implements it). Every method raises ``DocsError``; none retries on its own (backoff is the
    outbox's)."""

    site_url: str

    async def create_page(
        self, space: str, title: str, body: str, *, parent_id: str | None = None
    ) -> PageRef:
        """Create a page in the space with key ``space`` (storage-format ``body``), under
        ``parent_id`` or else the space's homepage. Idempotent: titles are unique per space, so a
        page already titled ``title`` there is returned as it is (``created=False``); a retry after
        a lost answer, or two calls at once, leave one page."""
        ...

    async def find_page(self, space: str, title: str) -> PageRef | None: ...

    async def page(self, page_id: str) -> PageSnapshot | None:
        """The page now; None when it does not exist (any more: deleted pages go to the trash)."""
        ...

    async def update_body(
        self, page_id: str, body: str, *, if_version: int | None = None, message: str = ""
    ) -> int:
        """Replace the page's body (keeping its title), as a new version; no write at all when the
        body is already ``body``. Returns the page's version afterwards. With ``if_version``, only
        when the page is still at that version (a person's edit since → ``conflict``)."""
        ...

    async def add_label(self, page_id: str, label: str) -> None:
        """Add a ``global`` label (no-op when the page has it)."""
        ...

    async def has_label(self, page_id: str, label: str) -> bool:
        """Whether the page carries this ``global`` label (e.g. the post-mortem's "ready")."""
        ...

    def page_url(self, space: str, page_id: str) -> str:
        """The page for people without asking Confluence: ``<site>/wiki/spaces/<KEY>/pages/<id>``."""
        ...

    async def close(self) -> None:
        """Release the HTTP connections."""
        ...


# ---------------------------------------------------------------------------------------------------
# --- Pager (PagerDuty) ---
# Who is on call, paging a service once per (incident, service), notes, acknowledging/resolving the
# pages the bot opened, and reading what responders did since the last pull.
# ---------------------------------------------------------------------------------------------------


class PagerError(IntegrationError):
    """A PagerDuty call failed. Codes:

    - ``not_found`` (404: the incident, user or escalation policy does not exist),
      ``unknown_service`` (the service to page or to read on-call for does not exist),
      ``forbidden`` (401/402/403: a bad API key, an account without the ability, or a ``From``
      address PagerDuty does not accept);
    - ``invalid`` (400): PagerDuty refused the request; ``detail`` has its ``errors``;
    - transient: ``ratelimited`` (429; ``retry_after`` from ``Retry-After`` or PagerDuty's
      ``ratelimit-reset`` header when present), ``unavailable`` (5xx, or an answer that is not
      PagerDuty JSON), ``network`` (timeout, connection refused or dropped)."""


@dataclass(frozen=True, slots=True)
class PagerUser:
    id: str
    name: str
    email: str
    """What the bot matches Slack users on."""


@dataclass(frozen=True, slots=True)
class OnCallShift:
    level: int
    """The escalation level, from 1 (paged first)."""
    user: PagerUser
    schedule: str | None
    """The schedule's name when the level targets a schedule; None for a user named directly."""
    start: datetime | None = None
    end: datetime | None = None
    """When the shift ends; None when it does not (a user target, an open-ended shift)."""


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who is on call now for one escalation policy, every level."""

    escalation_policy_id: str
    escalation_policy_name: str
    shifts: tuple[OnCallShift, ...]
    """Ordered by level, then name; empty when nobody is on call."""

    def level(self, level: int) -> tuple[PagerUser, ...]:
        return tuple(shift.user for shift in self.shifts if shift.level == level)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Page a service for a FireFighter incident."""

    incident_id: int
    service_id: str
    """The PagerDuty service id (``PXXXXXX``)."""
    title: str
    details: str
    channel_url: str
    """The incident's Slack channel: it travels with the page so responders can join."""
    urgency: str = "high"
    """``high`` or ``low`` (PagerDuty's urgencies)."""
    escalation_policy_id: str | None = None
    """Page this policy instead of the service's own."""

    @property
    def key(self) -> str:
        """PagerDuty's ``incident_key``: one per (incident, service), so a repeat finds the first."""
        return f"firefighter-{self.incident_id}-{self.service_id}"


@dataclass(frozen=True, slots=True)
class PagerAck:
    at: datetime
    user_id: str | None
    """None when a service or an integration acknowledged (not a person)."""
    name: str


@dataclass(frozen=True, slots=True)
class PagerIncident:
    id: str
    number: int
    url: str
    """The incident's page for people (``html_url``)."""
    status: str
    """``triggered``, ``acknowledged``, ``resolved`` (PagerDuty may add more: kept as sent)."""
    key: str | None
    service_id: str
    title: str
    urgency: str
    created_at: datetime
    last_status_change_at: datetime
    assignees: tuple[str, ...]
    """User ids the incident is assigned to now (the paged responders)."""
    acknowledgements: tuple[PagerAck, ...]


@dataclass(frozen=True, slots=True)
class PagerEvent:
    """One thing that happened to a PagerDuty incident (a log entry), for the pull job."""

    id: str
    """The log entry id: overlapping pull windows see an entry twice; this de-duplicates."""
    incident_id: str
    kind: str
    """``triggered``, ``assigned``, ``acknowledged``, ``unacknowledged``, ``escalated``,
    ``note`` or ``resolved``."""
    at: datetime
    by: PagerUser | None
    """The person who did it; None for a service, an integration or a timeout."""
    by_bot: bool
    """Done through the bot's own ``From`` address (echoes of the bot's own writes)."""
    text: str = ""
    """The note's content, the resolution, or PagerDuty's summary of the entry."""


class Pager(Protocol):
    """What the bot does in PagerDuty, by capability (``integrations.pagerduty.PagerDutyPager``
    implements it). Every method raises ``PagerError``; none retries on its own (backoff is the
    outbox's)."""

    async def on_call(
        self, *, service_id: str | None = None, escalation_policy_id: str | None = None
    ) -> OnCall:
        """Who is on call now for the service's escalation policy (or the one given), per level,
        with e-mails. Nobody on call is an empty ``shifts``, not an error."""
        ...

    async def trigger(self, page: PageRequest) -> PagerIncident:
        """Open a PagerDuty incident for ``page`` — unless one with ``page.key`` exists already
        (whatever its status), which is returned instead: retries after a lost answer, and two
        calls at once, leave one incident."""
        ...

    async def find_incident(
        self, key: str, *, service_id: str | None = None
    ) -> PagerIncident | None:
        """The incident opened with this ``incident_key``, if any."""
        ...

    async def incident(self, incident_id: str) -> PagerIncident | None:
        """The incident now; None when it does not exist."""
        ...

    async def add_note(self, incident_id: str, text: str) -> None: ...

    async def acknowledge(self, incident_id: str) -> PagerIncident:
        """Acknowledge as the bot (its ``From`` address)."""
        ...

    async def resolve(self, incident_id: str, *, resolution: str | None = None) -> PagerIncident:
        """Resolve as the bot; resolving a resolved incident changes nothing."""
        ...

    async def events_since(self, incident_ids: Sequence[str], since: datetime) -> list[PagerEvent]:
        """What happened to these incidents at or after ``since`` (whole seconds), oldest first,
        with who did it: the pull job learns acknowledgements and resolutions from this."""
        ...

    async def user_by_email(self, email: str) -> PagerUser | None:
        """The PagerDuty user with this e-mail (case-insensitive), None if there is none."""
        ...

    async def close(self) -> None:
        """Release the thread pool and connections."""
        ...
