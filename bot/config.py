"""Configuration: environment settings (secrets) and the YAML catalog (everything else).

Two sources, on purpose:

* :class:`Settings` reads the process environment (no prefix). Secrets (tokens, API keys) live only
  here, as :class:`~pydantic.SecretStr`. Each integration (Jira, PagerDuty, Confluence) is switched
  on by the presence of its URL and credentials (``jira_enabled`` ...); a half-configured one is an
  error. Settings are built once, in ``bot/__main__.py``.
* :class:`Catalog` is the configuration-as-code file (``FIREFIGHTER_CONFIG``; the documented
  example ``bot/firefighter.example.yaml`` when unset): priorities, impacts, categories, roles,
  custom fields, Slack channels, reminders, and the Jira / PagerDuty / Confluence mappings.
  :func:`load_catalog` validates it and raises :class:`CatalogError` whose message names the file,
  the line and column, and the field path of every problem, one per line::

      firefighter.yaml:14:5: categories[2].environments[0]: unknown environment 'PROD' (...)

Importing this module does no I/O.
"""

import difflib
import re
import string
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.incident import Priority as DomainPriority
from bot.postmortem import template_problems

#: The documented example catalog, shipped inside the package; used when FIREFIGHTER_CONFIG is unset.
EXAMPLE_CATALOG_PATH = Path(__file__).with_name("firefighter.example.yaml")

# ---------------------------------------------------------------------------------------------------
# Environment settings
# ---------------------------------------------------------------------------------------------------

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    """Process settings from the environment (variable = field name upper-cased, unless aliased)."""

    model_config = SettingsConfigDict(
        env_prefix="",
        case_sensitive=False,
        env_ignore_empty=True,  # `JIRA_URL=` means "not set", not "empty URL"
        extra="ignore",
        populate_by_name=True,
        frozen=True,
    )

    # Slack (both optional so that `firefighter check` / `demo` run without them).
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    # Storage.
    database_url: str = "sqlite://firefighter.sqlite3"
    db_pool_size: int = Field(default=10, ge=1, le=200)
    auto_migrate: bool = True
    #: How long a worker holds an outbox job (and its incident) before another may take it over:
    #: after a crash, unfinished side effects resume once this has passed.
    outbox_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    #: How often each reminder sweep looks for due reminders (seconds).
    reminder_sweep_seconds: float = Field(default=30.0, gt=0, le=3600)
    #: Tests and demos only: time runs this many times faster, from ``FIREFIGHTER_CLOCK_EPOCH``
    #: (an ISO time shared by the processes; default: the process start).
    clock_speedup: float = Field(
        default=1.0, gt=0, le=100_000, validation_alias="FIREFIGHTER_CLOCK_SPEEDUP"
    )
    clock_epoch: datetime | None = Field(default=None, validation_alias="FIREFIGHTER_CLOCK_EPOCH")

    # The catalog file; None -> the packaged example.
    firefighter_config: Path | None = None

    # Jira.
    jira_url: str | None = None
    jira_user: str | None = None
    jira_api_token: SecretStr | None = None
    jira_cloud: bool = True
    #: How often Jira changes are pulled, overriding the catalog's ``jira.sync_interval_seconds``
    #: (tests and demos, which cannot wait 15 s).
    jira_pull_seconds: float | None = Field(default=None, gt=0, le=3600)

    # PagerDuty.
    pagerduty_api_url: str = "https://api.pagerduty.com"
    pagerduty_events_url: str = "https://events.pagerduty.com"
    pagerduty_api_token: SecretStr | None = None
    pagerduty_from_email: str | None = None
    #: A CA bundle (PEM) to trust for PagerDuty's API instead of the system's (a proxy with its own
    #: CA, the sandbox of the tests and the demo). TLS is always verified.
    pagerduty_ca_bundle: Path | None = None
    #: How often PagerDuty acknowledgements are pulled, overriding the catalog's
    #: ``pagerduty.sync_interval_seconds`` (tests and demos, which cannot wait 15 s).
    pagerduty_pull_seconds: float | None = Field(default=None, gt=0, le=3600)

    # Confluence.
    confluence_url: str | None = None
    confluence_user: str | None = None
    confluence_api_token: SecretStr | None = None
    #: How often post-mortems are read back, overriding the catalog's
    #: ``confluence.sync_interval_seconds`` (tests and demos, which cannot wait 15 s).
    confluence_pull_seconds: float | None = Field(default=None, gt=0, le=3600)

    # Health / metrics HTTP endpoint.
    http_host: str = Field(
        default="0.0.0.0",
        validation_alias="FIREFIGHTER_HTTP_HOST",
    )
    http_port: int = Field(
        default=8080,
        ge=0,
        le=65535,
        validation_alias="FIREFIGHTER_HTTP_PORT",
    )

    # Logging.
    log_level: LogLevel = "INFO"
    log_format: Literal["json", "console"] = "json"

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _normalise_case(cls, value: object, info: Any) -> object:
        if isinstance(value, str):
            return value.upper() if info.field_name == "log_level" else value.lower()
        return value

    @model_validator(mode="after")
    def _integrations_are_all_or_nothing(self) -> Self:
        groups: dict[str, dict[str, object]] = {
            "Jira": {
                "JIRA_URL": self.jira_url,
                "JIRA_API_TOKEN": self.jira_api_token,
                **({"JIRA_USER": self.jira_user} if self.jira_cloud else {}),
            },
            "PagerDuty": {
                "PAGERDUTY_API_TOKEN": self.pagerduty_api_token,
                "PAGERDUTY_FROM_EMAIL": self.pagerduty_from_email,
            },
            "Confluence": {
                "CONFLUENCE_URL": self.confluence_url,
                "CONFLUENCE_USER": self.confluence_user,
                "CONFLUENCE_API_TOKEN": self.confluence_api_token,
            },
        }
        problems = []
        for name, values in groups.items():
            missing = [var for var, value in values.items() if value is None]
            if missing and len(missing) < len(values):
                problems.append(
                    f"{name} is partly configured: {', '.join(missing)} missing "
                    f"(set all of {', '.join(values)} to enable {name}, or none to disable it)"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def jira_enabled(self) -> bool:
        return self.jira_url is not None and self.jira_api_token is not None

    @property
    def pagerduty_enabled(self) -> bool:
        return self.pagerduty_api_token is not None and self.pagerduty_from_email is not None

    @property
    def confluence_enabled(self) -> bool:
        return (
            self.confluence_url is not None
            and self.confluence_user is not None
            and self.confluence_api_token is not None
        )

    def secrets(self) -> list[str]:
        """The raw values of every secret that is set, and the database password (for redaction)."""
        values = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.append(value.get_secret_value())
        password = urlsplit(self.database_url).password
        if password:
            values += [password, unquote(password)]
        return values


# ---------------------------------------------------------------------------------------------------
# Catalog: shared types
# ---------------------------------------------------------------------------------------------------

PriorityKey = Literal["P1", "P2", "P3", "P4", "P5"]
PRIORITY_KEYS: tuple[PriorityKey, ...] = ("P1", "P2", "P3", "P4", "P5")
IncidentStatusKey = Literal[
    "open", "investigating", "mitigating", "mitigated", "postmortem", "closed"
]
INCIDENT_STATUS_KEYS: tuple[IncidentStatusKey, ...] = typing.get_args(IncidentStatusKey)
ResponseType = Literal["critical", "normal"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = typing.get_args(Weekday)

_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_USERGROUP_RE = re.compile(r"^(S[A-Z0-9]{2,}|[a-z0-9][a-z0-9._-]*)$")
_CHANNEL_RE = re.compile(r"^(C[A-Z0-9]{2,}|G[A-Z0-9]{2,}|[a-z0-9][a-z0-9_-]{0,79})$")
_JIRA_FIELD_RE = re.compile(r"^([a-z][a-zA-Z]*|customfield_\d+)$")


def _key(value: object) -> object:
    if isinstance(value, str) and not _KEY_RE.match(value):
        raise ValueError(f"keys are lowercase letters, digits, '-' and '_' (got {value!r})")
    return value


def _id_string(value: object) -> object:
    """YAML reads `parent_page_id: 123456` as an int; ids are strings."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _channel(value: object) -> object:
    if isinstance(value, str):
        value = value.strip().removeprefix("#")
        if not _CHANNEL_RE.match(value):
            raise ValueError(
                f"expected a channel name ('#incidents') or id ('C0123ABCD'), got {value!r}"
            )
    return value


def _usergroup(value: object) -> object:
    if isinstance(value, str):
        value = value.strip().removeprefix("@")
        if not _USERGROUP_RE.match(value):
            raise ValueError(
                "expected a user group handle ('@payments-oncall') or id ('S0123ABCD'), "
                f"got {value!r}"
            )
    return value


def _user(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        if not (_USER_ID_RE.match(value) or _EMAIL_RE.match(value)):
            raise ValueError(
                f"expected a Slack user id ('U0123ABCD') or an email address, got {value!r}"
            )
    return value


def _clock_time(value: object) -> object:
    # YAML 1.1 reads an unquoted 9:00 as the sexagesimal integer 540: refuse anything but a string.
    if not isinstance(value, str | time):
        raise ValueError(
            "expected a quoted time of day such as '09:00' (unquoted, YAML reads 9:00 as a "
            f"number), got {value!r}"
        )
    return value


Key = Annotated[str, BeforeValidator(_key)]
IdString = Annotated[str, BeforeValidator(_id_string)]
ChannelRef = Annotated[str, BeforeValidator(_channel)]
UsergroupRef = Annotated[str, BeforeValidator(_usergroup)]
UserRef = Annotated[str, BeforeValidator(_user)]
ClockTime = Annotated[time, BeforeValidator(_clock_time)]
Loc = tuple[str | int, ...]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _raise_problems(problems: Sequence[tuple[Loc, str]]) -> None:
    """Report cross-field problems, each with its own location (expanded by load_catalog)."""
    if problems:
        summary = "; ".join(f"{_format_loc(loc) or '(root)'}: {msg}" for loc, msg in problems)
        raise PydanticCustomError(
            "catalog_problems", "{summary}", {"summary": summary, "problems": list(problems)}
        )


def _duplicates(items: Sequence[Any], attr: str, where: str) -> list[tuple[Loc, str]]:
    seen: dict[object, int] = {}
    problems: list[tuple[Loc, str]] = []
    for index, item in enumerate(items):
        value = getattr(item, attr)
        folded = value.casefold() if isinstance(value, str) else value
        if folded in seen:
            problems.append(
                (
                    (where, index, attr),
                    f"duplicate {attr} {value!r} (already used by {where}[{seen[folded]}])",
                )
            )
        else:
            seen[folded] = index
    return problems


def _unknown(kind: str, value: str, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(value, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {kind} {value!r} ({hint}known: {', '.join(known) or 'none'})"


# ---------------------------------------------------------------------------------------------------
# Catalog sections
# ---------------------------------------------------------------------------------------------------


class Priority(_Model):
    """One of P1..P5."""

    key: PriorityKey
    name: str = Field(min_length=1, max_length=40)
    emoji: str = ""
    description: str = ""
    sla: str = Field(default="", description="SLA shown in the declare modal")
    ack_sla_minutes: int | None = Field(default=None, ge=1)
    mitigate_sla_minutes: int | None = Field(default=None, ge=1)
    needs_postmortem: bool = False
    update_reminder_minutes: int | None = Field(default=None, ge=5)
    reminder_office_hours_only: bool = False
    response: ResponseType | None = None

    @property
    def level(self) -> int:
        """1 for P1 ... 5 for P5 (lower is more severe)."""
        return int(self.key[1])

    @property
    def response_type(self) -> ResponseType:
        """`critical` (a Slack channel) for P1-P3 unless overridden; `normal` for P4-P5."""
        if self.response is not None:
            return self.response
        return "critical" if self.level <= 3 else "normal"


def _default_priorities() -> list[Priority]:
    return [
        Priority(
            key="P1",
            name="Critical",
            emoji=":red_circle:",
            needs_postmortem=True,
            update_reminder_minutes=30,
            sla="Acknowledge in 15 min",
        ),
        Priority(
            key="P2",
            name="High",
            emoji=":large_orange_circle:",
            needs_postmortem=True,
            update_reminder_minutes=60,
            sla="Acknowledge in 30 min",
        ),
        Priority(
            key="P3",
            name="Medium",
            emoji=":large_yellow_circle:",
            update_reminder_minutes=240,
            reminder_office_hours_only=True,
            sla="Acknowledge within office hours",
        ),
        Priority(key="P4", name="Low", emoji=":large_blue_circle:", sla="Next business day"),
        Priority(key="P5", name="Minor", emoji=":white_circle:", sla="Best effort"),
    ]


class ImpactType(_Model):
    key: Key
    name: str = Field(min_length=1, max_length=40)
    description: str = ""
    #: Per-type override of the level -> priority mapping, e.g. {high: P2} for internal tools.
    priorities: dict[str, PriorityKey | None] = Field(default_factory=dict)


class ImpactLevel(_Model):
    key: Key
    name: str = Field(min_length=1, max_length=40)
    description: str = ""
    #: The priority this level implies; null for the "no impact" level (it implies nothing).
    priority: PriorityKey | None


class Impacts(_Model):
    types: list[ImpactType] = Field(
        default_factory=lambda: [
            ImpactType(key="business", name="Business"),
            ImpactType(key="customers", name="Customers"),
            ImpactType(key="sellers", name="Sellers"),
            ImpactType(key="employees", name="Employees"),
        ],
        min_length=1,
    )
    levels: list[ImpactLevel] = Field(
        default_factory=lambda: [
            ImpactLevel(key="high", name="High", priority="P1"),
            ImpactLevel(key="medium", name="Medium", priority="P2"),
            ImpactLevel(key="low", name="Low", priority="P4"),
            ImpactLevel(key="none", name="None", priority=None),
        ],
        min_length=2,
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = _duplicates(self.types, "key", "types") + _duplicates(
            self.levels, "key", "levels"
        )
        problems += _duplicates(self.types, "name", "types")
        problems += _duplicates(self.levels, "name", "levels")
        if all(level.priority is not None for level in self.levels):
            problems.append((("levels",), "one level must mean 'no impact' (priority: null)"))
        level_keys = [level.key for level in self.levels]
        for index, impact_type in enumerate(self.types):
            for level in impact_type.priorities:
                if level not in level_keys:
                    problems.append(
                        (
                            ("types", index, "priorities", level),
                            _unknown("level", level, level_keys),
                        )
                    )
        _raise_problems(problems)
        return self

    def priority_for(self, impact_type: str, level: str) -> PriorityKey | None:
        """The priority implied by `level` on `impact_type` (None: no impact)."""
        for candidate in self.types:
            if candidate.key == impact_type and level in candidate.priorities:
                return candidate.priorities[level]
        for candidate_level in self.levels:
            if candidate_level.key == level:
                return candidate_level.priority
        raise KeyError(level)

    def table(self) -> dict[tuple[str, str], DomainPriority | None]:
        """Every ``(impact type, level)`` pair and the priority it implies (the domain's
        ``ImpactTable``, for ``bot.domain.priority.priority_from_impacts``)."""
        table: dict[tuple[str, str], DomainPriority | None] = {}
        for impact_type in self.types:
            for level in self.levels:
                key = self.priority_for(impact_type.key, level.key)
                table[(impact_type.key, level.key)] = (
                    None if key is None else DomainPriority.parse(key)
                )
        return table


class Group(_Model):
    key: Key
    name: str = Field(min_length=1, max_length=60)
    description: str = ""


class Responders(_Model):
    usergroups: list[UsergroupRef] = Field(default_factory=list)
    users: list[UserRef] = Field(default_factory=list)


class CategoryJira(_Model):
    project: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]+$")
    issue_type: str | None = None
    team: str | None = None
    components: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)


class Category(_Model):
    key: Key
    name: str = Field(min_length=1, max_length=60)
    group: Key
    description: str = ""
    responders: Responders = Field(default_factory=Responders)
    #: Keys of `pagerduty.services` paged for this category.
    pagerduty_services: list[Key] = Field(default_factory=list)
    jira: CategoryJira = Field(default_factory=CategoryJira)
    #: Environments this category exists in (empty: all).
    environments: list[str] = Field(default_factory=list)
    #: Extra roles (keys of `roles`) to fill for incidents of this category.
    roles: list[Key] = Field(default_factory=list)
    private: bool = False
    deploy_warning: bool = False


class Environment(_Model):
    key: str = Field(pattern=r"^[A-Za-z0-9_-]{1,20}$")
    name: str = Field(min_length=1, max_length=40)
    production: bool = False
    default: bool = False


class Role(_Model):
    key: Key
    name: str = Field(min_length=1, max_length=60)
    duties: str = ""
    #: Must be held for the whole life of the incident (the commander always is).
    required: bool = False
    #: Priorities for which a missing holder triggers the role-gap suggestion.
    suggest_for: list[PriorityKey] = Field(default_factory=list)


BUILTIN_ROLES: tuple[str, ...] = ("commander", "communications_lead")


def _default_roles() -> list[Role]:
    return [
        Role(
            key="commander",
            name="Incident commander",
            required=True,
            duties="Leads the response: decides, delegates, keeps the status current.",
        ),
        Role(
            key="communications_lead",
            name="Communications lead",
            suggest_for=["P1", "P2"],
            duties="Keeps stakeholders informed: status updates, announcements, customer notes.",
        ),
    ]


CustomFieldType = Literal["text", "select", "multi_select", "user", "number"]


class CustomField(_Model):
    key: Key
    label: str = Field(min_length=1, max_length=48)  # Slack input label limit is 2000; keep short
    type: CustomFieldType
    description: str = ""
    options: list[str] = Field(default_factory=list)
    required: bool = False
    #: Priorities whose declare/update modals show the field (empty: all).
    priorities: list[PriorityKey] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems: list[tuple[Loc, str]] = []
        if self.type in ("select", "multi_select"):
            if not self.options:
                problems.append((("options",), f"a {self.type} field needs options"))
            if len(self.options) > 100:
                problems.append((("options",), "Slack menus hold at most 100 options"))
            seen: set[str] = set()
            for index, option in enumerate(self.options):
                if option in seen:
                    problems.append((("options", index), f"duplicate option {option!r}"))
                seen.add(option)
        elif self.options:
            problems.append((("options",), f"options only apply to select fields, not {self.type}"))
        if (self.min is not None or self.max is not None) and self.type != "number":
            problems.append((("type",), "min/max only apply to number fields"))
        if self.min is not None and self.max is not None and self.min > self.max:
            problems.append((("min",), "min is greater than max"))
        _raise_problems(problems)
        return self


class Reactions(_Model):
    """Emoji names (without colons) that act on messages in incident channels."""

    timeline: str = "pushpin"
    broadcast: str = "mega"
    attach: str = "paperclip"

    @field_validator("timeline", "broadcast", "attach", mode="before")
    @classmethod
    def _strip_colons(cls, value: object) -> object:
        return value.strip().strip(":") if isinstance(value, str) else value


_TEMPLATE_FIELDS = {"date", "id", "slug", "priority", "category", "environment"}


class SlackSection(_Model):
    command: str = Field(default="/incident", pattern=r"^/[a-z0-9_-]{1,31}$")
    channel_name_template: str = "inc-{date:%Y%m%d}-{id}-{slug}"
    announcement_channel: ChannelRef | None = None
    deploy_warning_channel: ChannelRef | None = None
    announcement_overrides: dict[PriorityKey, ChannelRef] = Field(default_factory=dict)
    private_digest_channel: ChannelRef | None = None
    incident_managers_usergroup: UsergroupRef | None = None
    all_hands_usergroup: UsergroupRef | None = None
    all_hands_priorities: list[PriorityKey] = Field(default=["P1"])
    archive_delay_hours: float = Field(default=24, ge=0)
    reactions: Reactions = Field(default_factory=Reactions)

    @field_validator("channel_name_template")
    @classmethod
    def _check_template(cls, template: str) -> str:
        names = set()
        for _literal, field, _spec, _conv in string.Formatter().parse(template):
            if field is not None:
                names.add(field.split(".")[0].split("[")[0])
        if unknown := names - _TEMPLATE_FIELDS:
            raise ValueError(
                f"unknown placeholder(s) {', '.join(sorted(unknown))}; "
                f"available: {', '.join(sorted(_TEMPLATE_FIELDS))}"
            )
        if "id" not in names:
            raise ValueError("the template must contain {id} so every channel name is unique")
        try:
            sample = template.format(
                date=date(2024, 1, 31),
                id=1234,
                slug="checkout-down",
                priority="p1",
                category="payments",
                environment="prd",
            )
        except (ValueError, KeyError, IndexError, AttributeError) as exc:
            raise ValueError(f"the template does not format: {exc}") from exc
        if not re.fullmatch(r"[a-z0-9_-]{1,80}", sample.lower()):
            raise ValueError(
                f"renders as {sample!r}: channel names are lowercase letters, digits, '-' and '_'"
            )
        return template


class OfficeHours(_Model):
    start: ClockTime = time(9, 0)
    end: ClockTime = time(18, 0)
    days: list[Weekday] = Field(default=["mon", "tue", "wed", "thu", "fri"], min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.end <= self.start:
            _raise_problems([(("end",), "office hours must end after they start")])
        return self


class WeeklyDigest(_Model):
    day: Weekday = "mon"
    time: ClockTime = time(9, 30)


class Reminders(_Model):
    timezone: str = "UTC"
    office_hours: OfficeHours = Field(default_factory=OfficeHours)
    snooze_minutes: int = Field(default=60, ge=5)
    stale_mitigated_days: int = Field(default=3, ge=1)
    postmortem_due_business_days: int = Field(default=5, ge=1)
    role_gap_minutes: int = Field(default=15, ge=1)
    #: Weekly digest in the announcement channel; null disables it.
    weekly_digest: WeeklyDigest | None = Field(default_factory=WeeklyDigest)

    @field_validator("timezone")
    @classmethod
    def _check_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as 'Europe/Paris' or 'UTC'"
            ) from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


AccessGrant = Literal["role_holders", "channel_members", "incident_managers"]


class Access(_Model):
    #: Who may update, change priority, close and edit the timeline of an incident.
    manage: list[AccessGrant] = Field(
        default=["role_holders", "channel_members", "incident_managers"],
        min_length=1,
    )
    #: Whether the incident-managers group sees private incidents it is not a member of.
    incident_managers_see_private: bool = True
    #: Restrict declaring to one user group (null: everyone in the workspace may declare).
    declare_usergroup: UsergroupRef | None = None


JIRA_BUILTIN_SOURCES = (
    "environment",
    "category",
    "team",
    "group",
    "incident_id",
    "incident_url",
    "channel_url",
    "commander",
    "started_at",
    "impacts",
)


class JiraProject(_Model):
    issue_type: str | None = None
    #: Only the incident's members and managers can read this project's issues: a private
    #: incident's ticket there may carry its title and summary (elsewhere it is neutral).
    restricted: bool = False
    status_mapping: dict[IncidentStatusKey, str] = Field(default_factory=dict)


class JiraSection(_Model):
    default_project: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]+$")
    issue_type: str = "Incident"
    create_for_priorities: list[PriorityKey] = Field(default_factory=lambda: list(PRIORITY_KEYS))
    #: `priority`, or the id of a custom field (`customfield_10100`) on sites that use one.
    priority_field: str = Field(default="priority", pattern=_JIRA_FIELD_RE.pattern)
    priority_mapping: dict[PriorityKey, str] = Field(
        default={
            "P1": "Highest",
            "P2": "High",
            "P3": "Medium",
            "P4": "Low",
            "P5": "Lowest",
        }
    )
    #: Jira field id -> source: a built-in (environment, category, ...) or a custom field key.
    field_mapping: dict[str, str] = Field(default_factory=dict)
    labels: list[str] = Field(default_factory=lambda: ["incident"])
    status_mapping: dict[IncidentStatusKey, str] = Field(
        default={
            "open": "To Do",
            "investigating": "In Progress",
            "mitigating": "In Progress",
            "mitigated": "Mitigated",
            "postmortem": "Post-mortem",
            "closed": "Done",
        }
    )
    projects: dict[str, JiraProject] = Field(default_factory=dict)
    followup_issue_type: str = "Task"
    #: The project follow-ups are created in (default: the incident ticket's project).
    followup_project: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]+$")
    #: A follow-up not done this many days after it was created shows as overdue.
    followup_due_days: int = Field(default=30, ge=1, le=365)
    #: Every issue FireFighter opens carries this label: the pull searches on it.
    sync_label: str = Field(default="firefighter", pattern=r"^\S+$")
    sync_interval_seconds: int = Field(default=60, ge=15)

    @field_validator("labels")
    @classmethod
    def _labels_have_no_spaces(cls, labels: list[str]) -> list[str]:
        for label in labels:
            if not label or any(c.isspace() for c in label):
                raise ValueError(f"Jira labels cannot contain spaces: {label!r}")
        return labels

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems: list[tuple[Loc, str]] = []
        for field_id in self.field_mapping:
            if not _JIRA_FIELD_RE.match(field_id):
                problems.append(
                    (("field_mapping", field_id), "Jira field ids look like 'customfield_10100'")
                )
        for key in self.projects:
            if not re.match(r"^[A-Z][A-Z0-9_]+$", key):
                problems.append((("projects", key), f"{key!r} is not a Jira project key"))
        _raise_problems(problems)
        return self

    def status_for(self, project: str, status: IncidentStatusKey) -> str | None:
        override = self.projects.get(project)
        if override is not None and status in override.status_mapping:
            return override.status_mapping[status]
        return self.status_mapping.get(status)


class PagerDutyService(_Model):
    key: Key
    name: str = ""
    service_id: IdString = Field(pattern=r"^P[A-Z0-9]{5,}$")
    escalation_policy_id: IdString | None = Field(default=None, pattern=r"^P[A-Z0-9]{5,}$")


class PagerDutySection(_Model):
    services: list[PagerDutyService] = Field(default_factory=list)
    auto_page_priorities: list[PriorityKey] = Field(default=["P1", "P2"])
    urgency: dict[PriorityKey, Literal["high", "low"]] = Field(
        default={"P1": "high", "P2": "high", "P3": "low", "P4": "low", "P5": "low"}
    )
    sync_interval_seconds: int = Field(default=60, ge=15)

    @model_validator(mode="after")
    def _check(self) -> Self:
        _raise_problems(_duplicates(self.services, "key", "services"))
        return self

    def service(self, key: str) -> PagerDutyService:
        for service in self.services:
            if service.key == key:
                return service
        raise KeyError(key)


class ConfluenceSection(_Model):
    space_key: str | None = Field(default=None, pattern=r"^~?[A-Za-z0-9]+$")
    parent_page_id: IdString | None = Field(default=None, pattern=r"^\d+$")
    title_template: str = "Post-mortem #{id}: {title}"
    #: Body of a new post-mortem page (Confluence storage format); see the example for placeholders.
    template: str = ""
    #: Create the page when an incident that needs one reaches Mitigated.
    create_automatically: bool = True
    #: How "ready" is known: a label on the page, or a Jira status on the incident ticket.
    ready_via: Literal["label", "jira_status"] = "label"
    ready_label: str = "postmortem-ready"
    ready_jira_status: str | None = None
    #: How often the post-mortems of open incidents are read back (their "ready" state).
    sync_interval_seconds: int = Field(default=60, ge=15)

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems: list[tuple[Loc, str]] = []
        if self.ready_via == "jira_status" and not self.ready_jira_status:
            problems.append((("ready_jira_status",), "required when ready_via is jira_status"))
        try:
            self.title_template.format(id=1, title="t", priority="P1", category="c", date="d")
        except (KeyError, IndexError, ValueError) as exc:
            problems.append((("title_template",), f"does not format: {exc!r}"))
        if not re.fullmatch(r"[^\s!#&()*,.:;<>?@\[\]^A-Z]{1,255}", self.ready_label):
            problems.append(
                (
                    ("ready_label",),
                    "not a Confluence label: lower case, no spaces, none of !#&()*,.:;<>?@[]^",
                )
            )
        problems += [(("template",), problem) for problem in template_problems(self.template)]
        _raise_problems(problems)
        return self


# ---------------------------------------------------------------------------------------------------
# Catalog root
# ---------------------------------------------------------------------------------------------------


class Catalog(_Model):
    """The whole configuration-as-code file."""

    priorities: list[Priority] = Field(default_factory=_default_priorities)
    impacts: Impacts = Field(default_factory=Impacts)
    environments: list[Environment] = Field(
        default_factory=lambda: [
            Environment(key="PRD", name="Production", production=True, default=True),
            Environment(key="STG", name="Staging"),
            Environment(key="INT", name="Integration"),
        ],
        min_length=1,
    )
    groups: list[Group] = Field(min_length=1)
    categories: list[Category] = Field(min_length=1)
    roles: list[Role] = Field(default_factory=_default_roles)
    custom_fields: list[CustomField] = Field(default_factory=list)
    slack: SlackSection = Field(default_factory=SlackSection)
    reminders: Reminders = Field(default_factory=Reminders)
    access: Access = Field(default_factory=Access)
    jira: JiraSection = Field(default_factory=JiraSection)
    pagerduty: PagerDutySection = Field(default_factory=PagerDutySection)
    confluence: ConfluenceSection = Field(default_factory=ConfluenceSection)

    @field_validator("priorities")
    @classmethod
    def _sort_priorities(cls, priorities: list[Priority]) -> list[Priority]:
        return sorted(priorities, key=lambda p: p.key)

    @field_validator("roles")
    @classmethod
    def _add_builtin_roles(cls, roles: list[Role]) -> list[Role]:
        keys = {role.key for role in roles}
        missing = [role for role in _default_roles() if role.key not in keys]
        return missing + roles

    @model_validator(mode="after")
    def _cross_check(self) -> Self:
        problems: list[tuple[Loc, str]] = []
        # Uniqueness.
        for attr in ("key", "name"):
            problems += _duplicates(self.priorities, attr, "priorities")
            problems += _duplicates(self.environments, attr, "environments")
            problems += _duplicates(self.groups, attr, "groups")
            problems += _duplicates(self.categories, attr, "categories")
            problems += _duplicates(self.roles, attr, "roles")
        problems += _duplicates(self.custom_fields, "key", "custom_fields")
        # Priorities: exactly P1..P5.
        present = [p.key for p in self.priorities]
        if missing := [key for key in PRIORITY_KEYS if key not in present]:
            problems.append((("priorities",), f"missing priorities: {', '.join(missing)}"))
        # Environments: at most one default.
        defaults = [i for i, env in enumerate(self.environments) if env.default]
        for index in defaults[1:]:
            problems.append((("environments", index, "default"), "only one default environment"))
        env_keys = [env.key for env in self.environments]
        group_keys = [group.key for group in self.groups]
        role_keys = [role.key for role in self.roles]
        service_keys = [service.key for service in self.pagerduty.services]
        # Categories reference groups, environments, roles and PagerDuty services.
        for index, category in enumerate(self.categories):
            where: Loc = ("categories", index)
            if category.group not in group_keys:
                problems.append(((*where, "group"), _unknown("group", category.group, group_keys)))
            for i, env in enumerate(category.environments):
                if env not in env_keys:
                    problems.append(
                        ((*where, "environments", i), _unknown("environment", env, env_keys))
                    )
            for i, role in enumerate(category.roles):
                if role not in role_keys:
                    problems.append(((*where, "roles", i), _unknown("role", role, role_keys)))
            for i, service in enumerate(category.pagerduty_services):
                if service not in service_keys:
                    problems.append(
                        (
                            (*where, "pagerduty_services", i),
                            _unknown("PagerDuty service", service, service_keys),
                        )
                    )
        # Roles: the commander is always required.
        for index, declared in enumerate(self.roles):
            if declared.key == "commander" and not declared.required:
                problems.append((("roles", index, "required"), "the commander is always required"))
        # Jira field mapping sources are built-ins or custom fields.
        sources = [*JIRA_BUILTIN_SOURCES, *(field.key for field in self.custom_fields)]
        for field_id, source in self.jira.field_mapping.items():
            if source not in sources:
                problems.append(
                    (("jira", "field_mapping", field_id), _unknown("field source", source, sources))
                )
        _raise_problems(problems)
        return self

    # Lookups ---------------------------------------------------------------------------------------

    def priority(self, key: str) -> Priority:
        return _find(self.priorities, key, "priority")

    def category(self, key: str) -> Category:
        return _find(self.categories, key, "category")

    def group(self, key: str) -> Group:
        return _find(self.groups, key, "group")

    def environment(self, key: str) -> Environment:
        return _find(self.environments, key, "environment")

    def role(self, key: str) -> Role:
        return _find(self.roles, key, "role")

    def custom_field(self, key: str) -> CustomField:
        return _find(self.custom_fields, key, "custom field")

    @property
    def default_environment(self) -> Environment:
        return next((env for env in self.environments if env.default), self.environments[0])

    def is_production(self, environment: str) -> bool:
        """Whether incidents in ``environment`` follow production rules. An environment no longer
        in the file (renamed since the incident was declared) counts as not production."""
        try:
            return self.environment(environment).production
        except KeyError:
            return False

    def needs_postmortem(self, priority: str, environment: str) -> bool:
        """A post-mortem is required for priorities that need one, in production environments."""
        return self.priority(priority).needs_postmortem and self.environment(environment).production

    def announcement_channel_for(self, priority: str) -> str | None:
        """The channel announcing incidents of `priority` (a per-priority override or the global one)."""
        for key, channel in self.slack.announcement_overrides.items():
            if key == priority:
                return channel
        return self.slack.announcement_channel


_T = typing.TypeVar("_T")


def _find(items: Sequence[_T], key: str, kind: str) -> _T:
    for item in items:
        if getattr(item, "key", None) == key:
            return item
    raise KeyError(f"unknown {kind} {key!r}")


# ---------------------------------------------------------------------------------------------------
# Loading, with errors located in the YAML file
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogProblem:
    """One problem in the catalog file; `line` and `column` are 1-based (0 when unknown)."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class CatalogError(Exception):
    """The catalog file is unreadable or invalid; `str()` lists one located problem per line."""

    def __init__(self, problems: Sequence[CatalogProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def load_catalog(path: Path | None) -> Catalog:
    """Read and validate the catalog at `path` (None: the packaged example)."""
    path = EXAMPLE_CATALOG_PATH if path is None else Path(path)
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(
            [CatalogProblem(name, 0, 0, "", f"cannot read the file: {exc.strerror or exc}")]
        ) from exc
    return parse_catalog(text, name)


def parse_catalog(text: str, filename: str = "<catalog>") -> Catalog:
    """Validate catalog YAML `text`; `filename` is only used in error messages."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise CatalogError([CatalogProblem(filename, 1, 1, "", "the file is empty")])
        duplicates = _duplicate_mapping_keys(root, (), filename)
        data = loader.construct_document(root)  # type: ignore[no-untyped-call]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        raise CatalogError(
            [CatalogProblem(filename, line, column, "", f"YAML syntax error: {message}")]
        ) from exc
    except yaml.YAMLError as exc:
        raise CatalogError([CatalogProblem(filename, 0, 0, "", f"YAML error: {exc}")]) from exc
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]
    if not isinstance(data, dict):
        raise CatalogError(
            [_problem_at(root, (), filename, "the file must be a mapping of sections")]
        )
    try:
        catalog = Catalog.model_validate(data)
    except ValidationError as exc:
        problems = sorted(
            [*duplicates, *_located_problems(exc, root, filename)],
            key=lambda problem: (problem.line, problem.column),
        )
        raise CatalogError(problems) from exc
    if duplicates:
        raise CatalogError(duplicates)
    return catalog


def locate_problems(path: Path | None, problems: Sequence[tuple[Loc, str]]) -> list[CatalogProblem]:
    """Problems found after loading (e.g. a Jira project that does not exist), located in the
    catalog file by their field path, as the loading errors are."""
    path = EXAMPLE_CATALOG_PATH if path is None else Path(path)
    try:
        root = yaml.SafeLoader(path.read_text(encoding="utf-8")).get_single_node()
    except (OSError, yaml.YAMLError):
        root = None
    if root is None:
        return [CatalogProblem(str(path), 0, 0, _format_loc(loc), m) for loc, m in problems]
    return [_problem_at(root, loc, str(path), message) for loc, message in problems]


def _located_problems(exc: ValidationError, root: yaml.Node, filename: str) -> list[CatalogProblem]:
    problems: list[CatalogProblem] = []
    for error in exc.errors(include_url=False):
        loc: Loc = tuple(error["loc"])
        ctx = error.get("ctx") or {}
        if error["type"] == "catalog_problems":
            for sub_loc, message in ctx["problems"]:
                problems.append(_problem_at(root, (*loc, *sub_loc), filename, message))
            continue
        message = error["msg"]
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        if error["type"] == "extra_forbidden" and loc:
            message = _unknown_key_message(loc)
        elif error["type"] == "missing" and loc:
            message = f"missing required field {loc[-1]!r}"
        problems.append(_problem_at(root, loc, filename, message))
    return problems


def _problem_at(root: yaml.Node, loc: Loc, filename: str, message: str) -> CatalogProblem:
    node = _node_at(root, loc)
    mark = node.start_mark
    return CatalogProblem(filename, mark.line + 1, mark.column + 1, _format_loc(loc), message)


def _node_at(root: yaml.Node, loc: Loc) -> yaml.Node:
    """The deepest YAML node along `loc`; a mapping key's own node for the last element."""
    node = root
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if part == "[key]":
            break
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                    at_key = last or (position + 1 < len(loc) and loc[position + 1] == "[key]")
                    node = key_node if at_key else value_node
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                node = node.value[part]
            else:
                break
        else:
            break
    return node


def _format_loc(loc: Loc) -> str:
    text = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _duplicate_mapping_keys(node: yaml.Node, loc: Loc, filename: str) -> list[CatalogProblem]:
    """PyYAML keeps the last of two equal keys silently; a catalog typo must not vanish."""
    problems: list[CatalogProblem] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if isinstance(key, str):
                if key in seen:
                    mark = key_node.start_mark
                    problems.append(
                        CatalogProblem(
                            filename,
                            mark.line + 1,
                            mark.column + 1,
                            _format_loc((*loc, key)),
                            f"duplicate key {key!r} (first set on line {seen[key]})",
                        )
                    )
                else:
                    seen[key] = key_node.start_mark.line + 1
            child: Loc = (*loc, key) if isinstance(key, str) else loc
            problems += _duplicate_mapping_keys(value_node, child, filename)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _duplicate_mapping_keys(item, (*loc, index), filename)
    return problems


def _unknown_key_message(loc: Loc) -> str:
    key = str(loc[-1])
    model = _model_at(loc[:-1])
    if model is None:
        return f"unknown key {key!r}"
    known = list(model.model_fields)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (allowed: {', '.join(known)})"
    return f"unknown key {key!r}{hint}"


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The pydantic model class validating the value at `loc` (for "did you mean" hints)."""
    current: Any = Catalog
    for part in loc:
        if isinstance(part, int) or not (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            current = _unwrap(current, container=True)
            if isinstance(part, int):
                continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            current = _unwrap(current, container=True)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        else:
            current = _unwrap(current, container=True)
    current = _unwrap(current, container=False)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _unwrap(annotation: Any, *, container: bool) -> Any:
    """Strip Optional/Annotated and (if `container`) one list/dict level."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0], container=container)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _unwrap(options[0], container=container) if len(options) == 1 else annotation
    if container and origin in (list, tuple, set, frozenset):
        return typing.get_args(annotation)[0]
    if container and origin in (dict, Mapping):
        return typing.get_args(annotation)[1]
    return annotation
