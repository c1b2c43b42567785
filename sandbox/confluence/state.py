"""What the sandbox Confluence remembers: accounts, spaces (each with its homepage), pages with their
storage-format body, version history and labels, and footer comments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.atlassian import AtlassianAccount

JSON = dict[str, Any]


class ConfluenceError(Exception):
    """An answer Confluence gives with an error body.

    v2 answers `{"errors": [{"status", "code", "title", "detail"}]}`; v1 answers
    `{"statusCode", "message", "reason"}`. `body(version)` renders the right one.
    """

    _CODES = {
        400: ("INVALID_REQUEST_PARAMETER", "Bad Request"),
        401: ("UNAUTHORIZED", "Unauthorized"),
        403: ("FORBIDDEN", "Forbidden"),
        404: ("NOT_FOUND", "Not Found"),
        409: ("CONFLICT", "Conflict"),
        410: ("GONE", "Gone"),
        413: ("PAYLOAD_TOO_LARGE", "Payload Too Large"),
        429: ("TOO_MANY_REQUESTS", "Too Many Requests"),
        500: ("INTERNAL_SERVER_ERROR", "Internal Server Error"),
        501: ("NOT_IMPLEMENTED", "Not Implemented"),
        502: ("BAD_GATEWAY", "Bad Gateway"),
        503: ("SERVICE_UNAVAILABLE", "Service Unavailable"),
        504: ("GATEWAY_TIMEOUT", "Gateway Timeout"),
    }

    def __init__(self, status: int, title: str) -> None:
        super().__init__(status, title)
        self.status = status
        self.title = title

    def body(self, version: str) -> JSON:
        code, reason = self._CODES.get(self.status, ("ERROR", "Error"))
        if version == "v1":
            return {"statusCode": self.status, "message": self.title, "reason": reason}
        return {"errors": [{"status": self.status, "code": code, "title": self.title}]}


@dataclass
class Account(AtlassianAccount):
    can_write: bool = True
    """False: the person may read the space but not change pages (403/404 on writes)."""


@dataclass
class Space:
    id: str
    key: str
    name: str
    homepage_id: str
    author_id: str
    created_at: datetime
    type: str = "global"
    status: str = "current"


@dataclass
class Version:
    number: int
    author_id: str
    created_at: datetime
    message: str = ""
    body: str = ""
    title: str = ""


@dataclass
class Label:
    id: str
    name: str
    prefix: str = "global"


@dataclass
class Page:
    id: str
    space_id: str
    title: str
    parent_id: str | None
    author_id: str
    created_at: datetime
    body: str
    versions: list[Version] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    status: str = "current"
    position: int = 0

    @property
    def version(self) -> Version:
        return self.versions[-1]


@dataclass
class Comment:
    id: str
    page_id: str
    body: str
    author_id: str
    created_at: datetime
    version: int = 1
