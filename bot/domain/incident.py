"""The incident domain (PRODUCT.md §1) as frozen values: no I/O, no clock, stdlib only.

Storage maps rows to and from these types; the service, the Block Kit builders and the jobs only ever
see them. Times are tz-aware (the constructors refuse naive datetimes) and always passed in (`now`).
The lifecycle rules (which transition is allowed, what closing requires) live elsewhere in
``bot.domain``; this module only says what an incident *is*.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import TypeAlias

JsonValue: TypeAlias = str | int | float | bool | list["JsonValue"] | dict[str, "JsonValue"] | None
"""What may go in the free-form mappings (custom fields, timeline data): anything JSON can hold."""

TITLE_MIN_LENGTH = 10
TITLE_MAX_LENGTH = 128
SUMMARY_MIN_LENGTH = 10
SUMMARY_MAX_LENGTH = 1200


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value!r}")


class Status(StrEnum):
    """Lifecycle status, declared in lifecycle order (``order`` compares them)."""

    OPEN = "open"
    INVESTIGATING = "investigating"
    MITIGATING = "mitigating"
    MITIGATED = "mitigated"
    POSTMORTEM = "postmortem"
    CLOSED = "closed"

    @property
    def order(self) -> int:
        """Position in the lifecycle: OPEN is 0, CLOSED is 5."""
        return _STATUS_ORDER[self]

    @property
    def label(self) -> str:
        """Human label, e.g. ``Post-mortem``."""
        return _STATUS_LABELS[self]

    @property
    def is_past_mitigated(self) -> bool:
        """Post-mortem or Closed: the incident no longer holds its ``dedup_key``."""
        return self.order > Status.MITIGATED.order

    @property
    def is_mitigated_or_later(self) -> bool:
        return self.order >= Status.MITIGATED.order

    @property
    def is_closed(self) -> bool:
        return self is Status.CLOSED


_STATUS_ORDER: dict[Status, int] = {status: index for index, status in enumerate(Status)}
_STATUS_LABELS: dict[Status, str] = {
    Status.OPEN: "Open",
    Status.INVESTIGATING: "Investigating",
    Status.MITIGATING: "Mitigating",
    Status.MITIGATED: "Mitigated",
    Status.POSTMORTEM: "Post-mortem",
    Status.CLOSED: "Closed",
}

OPEN_STATUSES: frozenset[Status] = frozenset(s for s in Status if s is not Status.CLOSED)
"""Every status but Closed: what "open incidents" lists show."""


class ResponseType(StrEnum):
    """Critical incidents get a Slack channel; normal ones a ticket and tracking only."""

    CRITICAL = "critical"
    NORMAL = "normal"


class Priority(IntEnum):
    """P1 (worst) to P5. Names, emoji, SLA and post-mortem needs come from the configuration."""

    P1 = 1
    P2 = 2
    P3 = 3
    P4 = 4
    P5 = 5

    @property
    def label(self) -> str:
        return f"P{self.value}"

    @property
    def default_response_type(self) -> ResponseType:
        """P1-P3 are critical (a channel), P4-P5 normal."""
        return ResponseType.CRITICAL if self <= Priority.P3 else ResponseType.NORMAL

    @classmethod
    def parse(cls, text: str | int) -> Priority:
        """``"P2"``, ``"p2"``, ``"2"`` or ``2`` → ``Priority.P2``; ValueError otherwise."""
        raw = str(text).strip().upper().removeprefix("P")
        try:
            return cls(int(raw))
        except ValueError:
            raise ValueError(f"not a priority: {text!r} (expected P1 to P5)") from None


class ClosureReason(StrEnum):
    """Why an incident was closed early (bypassing the closing checks)."""

    DUPLICATE = "duplicate"
    FALSE_ALARM = "false_alarm"
    SUPERSEDED = "superseded"
    EXTERNAL = "external"
    CANCELLED = "cancelled"


class Milestone(StrEnum):
    """The incident's timestamps; the value is the attribute name on ``Milestones``."""

    STARTED = "started_at"
    DETECTED = "detected_at"
    DECLARED = "declared_at"
    ACKNOWLEDGED = "acknowledged_at"
    MITIGATED = "mitigated_at"
    RESOLVED = "resolved_at"
    CLOSED = "closed_at"


@dataclass(frozen=True, slots=True, kw_only=True)
class Milestones:
    """When the impact started, was detected, declared… Each is settable and correctable."""

    started_at: datetime | None = None
    detected_at: datetime | None = None
    declared_at: datetime | None = None
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None

    def __post_init__(self) -> None:
        for milestone in Milestone:
            _require_aware(milestone.value, getattr(self, milestone.value))

    def get(self, milestone: Milestone) -> datetime | None:
        value: datetime | None = getattr(self, milestone.value)
        return value

    def with_(self, milestone: Milestone, value: datetime | None) -> Milestones:
        """A copy with one milestone set (or cleared with ``None``)."""
        changes: dict[str, datetime | None] = {milestone.value: value}
        return dataclasses.replace(self, **changes)

    def missing(self, required: tuple[Milestone, ...] = tuple(Milestone)) -> tuple[Milestone, ...]:
        """The milestones among ``required`` that are not set, in lifecycle order."""
        return tuple(m for m in required if self.get(m) is None)

    def as_dict(self) -> dict[Milestone, datetime | None]:
        return {m: self.get(m) for m in Milestone}


def _comparable(value: object) -> object:
    """JSON for what ``json`` cannot write: an instant whatever its zone, anything else as text."""
    return value.timestamp() if isinstance(value, datetime) else str(value)


_NOT_IN_FORMS = frozenset(
    {"channel_id", "channel_name", "dedup_key", "updated_at", "version", "milestones"}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Incident:
    """A stored incident. ``id`` is the human-facing sequential number ("#1234")."""

    id: int
    title: str
    summary: str
    priority: Priority
    category: str
    environments: tuple[str, ...]
    status: Status
    created_by: str
    created_at: datetime
    updated_at: datetime
    response_type: ResponseType
    private: bool = False
    custom_fields: Mapping[str, JsonValue] = field(default_factory=dict)
    channel_id: str | None = None
    channel_name: str | None = None
    dedup_key: str | None = None
    milestones: Milestones = field(default_factory=Milestones)
    closure_reason: ClosureReason | None = None
    closure_reference: str | None = None
    version: int = 1

    def __post_init__(self) -> None:
        if not self.environments:
            raise ValueError("an incident has at least one environment (the first is primary)")
        _require_aware("created_at", self.created_at)
        _require_aware("updated_at", self.updated_at)
        object.__setattr__(self, "environments", tuple(self.environments))
        object.__setattr__(self, "custom_fields", dict(self.custom_fields))

    @property
    def reference(self) -> str:
        """``#1234``."""
        return f"#{self.id}"

    @property
    def primary_environment(self) -> str:
        return self.environments[0]

    @property
    def is_open(self) -> bool:
        return self.status is not Status.CLOSED

    @property
    def active_dedup_key(self) -> str | None:
        """The dedup key while it is reserved (up to Mitigated); ``None`` once past Mitigated."""
        return None if self.status.is_past_mitigated else self.dedup_key

    @property
    def form_state(self) -> str:
        """A digest of what people decide on in a form: every field but the bot's bookkeeping (the
        channel, the dedup key, the first response, timestamps and the version). Two versions with
        the same digest differ only in what no form shows."""
        shown = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in _NOT_IN_FORMS
        }
        shown["milestones"] = dataclasses.asdict(
            dataclasses.replace(self.milestones, acknowledged_at=None)
        )
        text = json.dumps(shown, sort_keys=True, default=_comparable)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def form_is_stale(self, *, version: int, state: str | None) -> bool:
        """Whether a form opened on ``version`` (whose ``form_state`` was ``state``, when known)
        would now decide on something that changed since: a newer version that changed only the
        bookkeeping (a note's first response on another replica, the channel recorded) is not."""
        return self.version != version and (state is None or state != self.form_state)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewIncident:
    """An incident about to be declared (no id yet). ``to_incident`` fills the defaults."""

    title: str
    summary: str
    priority: Priority
    category: str
    environments: tuple[str, ...]
    created_by: str
    created_at: datetime
    status: Status = Status.OPEN
    response_type: ResponseType | None = None
    private: bool = False
    custom_fields: Mapping[str, JsonValue] = field(default_factory=dict)
    channel_id: str | None = None
    channel_name: str | None = None
    dedup_key: str | None = None
    milestones: Milestones = field(default_factory=Milestones)

    def to_incident(self, incident_id: int) -> Incident:
        """The stored form: version 1, ``declared_at`` defaulting to ``created_at``, the response
        type defaulting to the priority's."""
        milestones = self.milestones
        if milestones.declared_at is None:
            milestones = milestones.with_(Milestone.DECLARED, self.created_at)
        return Incident(
            id=incident_id,
            title=self.title,
            summary=self.summary,
            priority=self.priority,
            category=self.category,
            environments=self.environments,
            status=self.status,
            created_by=self.created_by,
            created_at=self.created_at,
            updated_at=self.created_at,
            response_type=self.response_type or self.priority.default_response_type,
            private=self.private,
            custom_fields=self.custom_fields,
            channel_id=self.channel_id,
            channel_name=self.channel_name,
            dedup_key=self.dedup_key,
            milestones=milestones,
            version=1,
        )


class ActorKind(StrEnum):
    USER = "user"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: a Slack user (``U…``) or a system actor (``scheduler``, ``jira``…)."""

    kind: ActorKind
    id: str
    display_name: str | None = None

    @classmethod
    def user(cls, user_id: str, display_name: str | None = None) -> Actor:
        return cls(ActorKind.USER, user_id, display_name)

    @classmethod
    def system(cls, name: str, display_name: str | None = None) -> Actor:
        return cls(ActorKind.SYSTEM, name, display_name)

    @property
    def is_user(self) -> bool:
        return self.kind is ActorKind.USER


SCHEDULER = Actor.system("scheduler", "FireFighter")
JIRA = Actor.system("jira", "Jira")
PAGERDUTY = Actor.system("pagerduty", "PagerDuty")
CONFLUENCE = Actor.system("confluence", "Confluence")


class TimelineKind(StrEnum):
    DECLARED = "declared"
    STATUS_CHANGE = "status_change"
    PRIORITY_CHANGE = "priority_change"
    DETAILS_CHANGE = "details_change"
    ROLE_CHANGE = "role_change"
    MILESTONE_SET = "milestone_set"
    NOTE = "note"
    STATUS_UPDATE = "status_update"
    PINNED_MESSAGE = "pinned_message"
    EXTERNAL_EVENT = "external_event"
    PAGE = "page"
    POSTMORTEM_CREATED = "postmortem_created"
    FOLLOWUP = "followup"
    COST = "cost"
    CONVERTED = "converted"
    SIDE_EFFECT_FAILED = "side_effect_failed"
    CLOSED = "closed"
    REOPENED = "reopened"


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineEntry:
    """One entry of an incident's append-only timeline. ``happened_at`` is editable (with a
    reason, kept in ``data``); a pinned message carries its source and follows its edits
    (``edited``) and deletion (``struck_out``, kept for audit)."""

    id: int
    incident_id: int
    kind: TimelineKind
    happened_at: datetime
    actor: Actor
    created_at: datetime
    text: str = ""
    data: Mapping[str, JsonValue] = field(default_factory=dict)
    source_permalink: str | None = None
    source_channel: str | None = None
    source_ts: str | None = None
    edited: bool = False
    struck_out: bool = False

    def __post_init__(self) -> None:
        _require_aware("happened_at", self.happened_at)
        _require_aware("created_at", self.created_at)
        object.__setattr__(self, "data", dict(self.data))


class BuiltinRole(StrEnum):
    """The roles every deployment has; more come from the configuration (plain strings)."""

    COMMANDER = "commander"
    COMMUNICATIONS_LEAD = "communications_lead"


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleAssignment:
    """``role`` is a role key: a ``BuiltinRole`` or a key of a role defined in the config."""

    incident_id: int
    role: str
    user_id: str
    assigned_at: datetime
    assigned_by: Actor

    def __post_init__(self) -> None:
        _require_aware("assigned_at", self.assigned_at)


@dataclass(frozen=True, slots=True, kw_only=True)
class Participant:
    """A member of the incident channel; who left is never re-invited automatically."""

    incident_id: int
    user_id: str
    joined_at: datetime
    left_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware("joined_at", self.joined_at)
        _require_aware("left_at", self.left_at)

    @property
    def has_left(self) -> bool:
        return self.left_at is not None
