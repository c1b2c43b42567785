"""What the sandbox PagerDuty remembers: users, schedules (shifts), escalation policies (levels with
targets), services (with an Events integration key), incidents with their assignments,
acknowledgements, notes and log entries. Rendering to PagerDuty's JSON shapes lives in `server.py`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

JSON = dict[str, Any]

Status = Literal["triggered", "acknowledged", "resolved"]
OPEN: frozenset[str] = frozenset({"triggered", "acknowledged"})


class PagerDutyError(Exception):
    """An answer PagerDuty gives with its error shape: `{"error": {"message", "code", "errors"}}`.

    Codes and messages are PagerDuty's documented ones where known (2001 "Invalid Input Provided",
    2100 "Not Found", 2006 "Unauthenticated", 2010 "Access Denied")."""

    def __init__(self, status: int, message: str, code: int, errors: list[str] | None = None):
        super().__init__(status, message, code, errors)
        self.status = status
        self.message = message
        self.code = code
        self.errors = errors or []

    def body(self) -> JSON:
        error: JSON = {"message": self.message, "code": self.code}
        if self.errors:
            error["errors"] = self.errors
        return {"error": error}


def invalid(*errors: str) -> PagerDutyError:
    return PagerDutyError(400, "Invalid Input Provided", 2001, list(errors))


def not_found() -> PagerDutyError:
    return PagerDutyError(404, "Not Found", 2100)


@dataclass
class User:
    id: str
    name: str
    email: str
    time_zone: str = "Etc/UTC"
    role: str = "user"


@dataclass
class Shift:
    user_id: str
    start: datetime
    end: datetime | None  # None: until further notice


@dataclass
class Schedule:
    id: str
    name: str
    time_zone: str = "Etc/UTC"
    shifts: list[Shift] = field(default_factory=list)

    def on_call(self, at: datetime) -> list[Shift]:
        """The shifts covering `at` (a schedule with none has nobody on call)."""
        return [s for s in self.shifts if s.start <= at and (s.end is None or at < s.end)]


@dataclass(frozen=True)
class Target:
    kind: Literal["user", "schedule"]
    id: str


@dataclass
class Rule:
    id: str
    delay_minutes: int
    targets: list[Target]


@dataclass
class EscalationPolicy:
    id: str
    name: str
    rules: list[Rule]
    num_loops: int = 0


@dataclass
class Service:
    id: str
    name: str
    escalation_policy_id: str
    integration_key: str
    """The Events API v2 routing key of the service's integration."""
    status: str = "active"


@dataclass(frozen=True)
class Agent:
    """Who did something: a user, or a service / integration (events, escalation timeouts)."""

    kind: Literal["user", "service", "integration"]
    id: str
    summary: str


@dataclass
class Note:
    id: str
    user_id: str
    content: str
    created_at: datetime


@dataclass
class LogEntry:
    id: str
    type: str  # trigger_log_entry, acknowledge_log_entry, annotate_log_entry, ...
    created_at: datetime
    agent: Agent | None
    channel: JSON
    summary: str
    assignees: tuple[str, ...] = ()
    note: str | None = None


@dataclass
class Incident:
    id: str
    number: int
    title: str
    service_id: str
    escalation_policy_id: str
    urgency: str
    status: Status
    incident_key: str | None
    details: Any
    created_at: datetime
    created_by: Agent
    last_status_change_at: datetime
    last_status_change_by: Agent
    assigned_via: str = "escalation_policy"
    assignments: list[tuple[str, datetime]] = field(default_factory=list)
    acknowledgements: list[tuple[Agent, datetime]] = field(default_factory=list)
    resolved_at: datetime | None = None
    updated_at: datetime | None = None
    notes: list[Note] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN
