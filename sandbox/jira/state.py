"""What the sandbox Jira remembers: accounts, projects, issue types, priorities, fields, a workflow,
issues with their changelogs and remote links. Values are stored in one form and rendered per API
version (v3: ADF for description/environment; v2: plain strings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
class Account:
    account_id: str
    display_name: str
    email: str
    api_token: str
    name: str  # Data Center user name (Cloud has account ids only)
    time_zone: str = "UTC"
    active: bool = True


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
class FieldDef:
    id: str
    name: str
    custom: bool
    schema_type: str
    custom_type: str | None = None  # e.g. com.atlassian.jira.plugin.system.customfieldtypes:select

    @property
    def schema(self) -> JSON:
        out: JSON = {"type": self.schema_type}
        if self.custom:
            out["custom"] = (
                self.custom_type or "com.atlassian.jira.plugin.system.customfieldtypes:textfield"
            )
            out["customId"] = int(self.id.rsplit("_", 1)[1])
        else:
            out["system"] = self.id
        return out


@dataclass
class Project:
    id: str
    key: str
    name: str
    issue_type_ids: tuple[str, ...]
    next_number: int = 1


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


@dataclass
class RemoteLink:
    id: int
    global_id: str | None
    object: JSON
    relationship: str | None = None
    application: JSON | None = None


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

    @property
    def status_id(self) -> str:
        return str(self.values["status"])
