"""What the sandbox Jira remembers: accounts, projects with their workflows, issue types, priorities,
fields, link types, and issues with their changelogs, comments, links, attachments and remote links.
Values are stored in one form and rendered per API version (v3: ADF for rich text; v2: strings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.atlassian import AtlassianAccount

JSON = dict[str, Any]


class JiraError(Exception):
    """An answer Jira gives with an `ErrorCollection` body (`errorMessages` and/or field `errors`)."""

    def __init__(
        self, status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, messages, errors)
        self.status = status
        self.messages = messages or []
        self.errors = errors or {}

    def body(self) -> JSON:
        return {"errorMessages": self.messages, "errors": self.errors}


@dataclass
class Account(AtlassianAccount):
    name: str = ""  # Data Center user name (Cloud has account ids only): the e-mail's local part
    time_zone: str = "UTC"
    active: bool = True
    email_visible: bool = True  # Cloud hides `emailAddress` when the profile says so

    def __post_init__(self) -> None:
        self.name = self.name or self.email.split("@", 1)[0]


@dataclass(frozen=True)
class IssueType:
    id: str
    name: str
    subtask: bool = False


@dataclass(frozen=True)
class Priority:
    id: str
    name: str


@dataclass(frozen=True)
class Status:
    id: str
    name: str
    category_id: int
    category_key: str  # new | indeterminate | done
    category_name: str
    color: str


@dataclass(frozen=True)
class Transition:
    id: str
    name: str
    to_status: str
    from_statuses: frozenset[str]  # empty: a global transition, available from every status


@dataclass(frozen=True)
class Workflow:
    """A project's statuses (the first is where new issues start) and the transitions between them."""

    name: str
    statuses: tuple[Status, ...]
    transitions: tuple[Transition, ...]

    @property
    def initial(self) -> Status:
        return self.statuses[0]

    def status_ids(self) -> frozenset[str]:
        return frozenset(s.id for s in self.statuses)


#: Custom field kinds the sandbox knows, with the Jira custom type and the `/field` schema they carry.
CUSTOM_KINDS: dict[str, tuple[str, JSON]] = {
    "string": ("textfield", {"type": "string"}),
    "textarea": ("textarea", {"type": "string"}),
    "option": ("select", {"type": "option"}),
    "multi-option": ("multiselect", {"type": "array", "items": "option"}),
    "number": ("float", {"type": "number"}),
    "user": ("userpicker", {"type": "user"}),
    "labels": ("labels", {"type": "array", "items": "string"}),
}
_CUSTOM_PREFIX = "com.atlassian.jira.plugin.system.customfieldtypes:"


@dataclass(frozen=True)
class Option:
    id: str
    value: str


@dataclass(frozen=True)
class FieldDef:
    """A field of the site. `kind` drives parsing and rendering: for system fields it is the field's
    role (`summary`, `rich-text`, `priority`, `user`, `labels`, `date`, `read-only`...), for custom
    fields one of `CUSTOM_KINDS`."""

    id: str
    name: str
    custom: bool
    schema_type: str
    kind: str
    options: tuple[Option, ...] = ()
    navigable: bool = True
    items: str | None = None

    @property
    def custom_type(self) -> str | None:
        return _CUSTOM_PREFIX + CUSTOM_KINDS[self.kind][0] if self.custom else None

    @property
    def schema(self) -> JSON:
        out: JSON = {"type": self.schema_type}
        if self.items:
            out["items"] = self.items
        if self.custom:
            out["custom"] = self.custom_type
            out["customId"] = int(self.id.rsplit("_", 1)[1])
        else:
            out["system"] = self.id
        return out

    def option(self, ref: Any) -> Option | None:
        """The allowed option a request names by `value` or `id`, None if it is not one."""
        if not isinstance(ref, dict):
            return None
        for option in self.options:
            if ref.get("id") is not None and str(ref["id"]) == option.id:
                return option
            if ref.get("value") is not None and ref["value"] == option.value:
                return option
        return None


@dataclass
class Project:
    id: str
    key: str
    name: str
    issue_type_ids: tuple[str, ...]
    workflow: Workflow
    next_number: int = 1
    components: dict[str, str] = field(default_factory=dict)  # id -> name


@dataclass(frozen=True)
class ChangeItem:
    field: str
    fieldtype: str  # jira | custom
    field_id: str
    from_: str | None
    from_string: str | None
    to: str | None
    to_string: str | None


@dataclass
class History:
    id: str
    author: str  # account id
    created: datetime
    items: list[ChangeItem]
    metadata: JSON | None = None  # `historyMetadata` sent with the edit or transition


@dataclass
class RemoteLink:
    id: int
    global_id: str | None
    object: JSON
    relationship: str | None = None
    application: JSON | None = None


@dataclass
class Comment:
    id: str
    author: str  # account id
    body: Any  # ADF document (sent to v3) or string (sent to v2)
    created: datetime


@dataclass(frozen=True)
class IssueLinkType:
    id: str
    name: str
    inward: str
    outward: str


@dataclass(frozen=True)
class IssueLink:
    id: str
    type_id: str
    inward_issue_id: str
    outward_issue_id: str


@dataclass(frozen=True)
class Attachment:
    id: str
    filename: str
    size: int
    mime_type: str
    author: str  # account id
    created: datetime
    content: bytes = field(repr=False)


@dataclass
class Issue:
    id: str
    key: str
    project_id: str
    values: (
        JSON  # field id -> stored value (ids for issuetype/priority/status, account ids for users)
    )
    created: datetime
    updated: datetime
    histories: list[History] = field(default_factory=list)
    remote_links: list[RemoteLink] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def status_id(self) -> str:
        return str(self.values["status"])
