"""The workspace the sandbox keeps: users, user groups, channels, messages, views, files.

Shapes follow the `examples.success` bodies of the method specs (`methods/users.info.json`,
`conversations.create.json`, `chat.postMessage.json`, `views.open.json`, `bookmarks.add.json`).
"""

from __future__ import annotations

import random
import string
import time
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


class SlackError(Exception):
    """An `{"ok": false, "error": code, ...}` answer; `extra` fields are merged into the body."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


@dataclass
class User:
    id: str
    name: str
    real_name: str
    email: str | None
    is_bot: bool = False
    tz: str = "Europe/Paris"
    tz_offset: int = 3600
    deleted: bool = False
    bot_id: str | None = None


@dataclass
class Usergroup:
    id: str
    handle: str
    name: str
    users: list[str]
    created: int
    updated: int = 0


@dataclass
class Message:
    ts: str
    channel: str
    user: str | None
    text: str
    blocks: list[Any] | None = None
    attachments: list[Any] | None = None
    bot_id: str | None = None
    subtype: str | None = None
    thread_ts: str | None = None
    reply_broadcast: bool = False
    reactions: dict[str, list[str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    edited: JSON | None = None
    replies: list[str] = field(default_factory=list)
    metadata: JSON | None = None


@dataclass
class Ephemeral:
    """What one user saw as "Only visible to you" in a channel (chat.postEphemeral, slash command acks)."""

    ts: str
    channel: str
    user: str
    text: str
    blocks: list[Any] | None = None
    thread_ts: str | None = None
    source: str = "chat.postEphemeral"


@dataclass
class Bookmark:
    id: str
    channel_id: str
    title: str
    link: str
    emoji: str | None
    created: int
    updated: int = 0


@dataclass
class Pin:
    ts: str
    created: int
    created_by: str


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool
    created: int
    creator: str
    members: list[str] = field(default_factory=list)
    is_archived: bool = False
    is_im: bool = False
    is_mpim: bool = False
    is_general: bool = False
    topic: JSON = field(default_factory=lambda: {"value": "", "creator": "", "last_set": 0})
    purpose: JSON = field(default_factory=lambda: {"value": "", "creator": "", "last_set": 0})
    previous_names: list[str] = field(default_factory=list)
    messages: dict[str, Message] = field(default_factory=dict)  # ts → message, insertion ordered
    bookmarks: dict[str, Bookmark] = field(default_factory=dict)
    pins: dict[str, Pin] = field(default_factory=dict)
    im_user: str | None = None

    @property
    def channel_type(self) -> str:
        """`channel_type` of message events: channel / group / im / mpim."""
        if self.is_im:
            return "im"
        if self.is_mpim:
            return "mpim"
        return "group" if self.is_private else "channel"


@dataclass
class View:
    id: str
    user_id: str
    payload: JSON  # the view as the app sent it
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    closed: bool = False

    @property
    def type(self) -> str:
        return str(self.payload.get("type"))

    @property
    def external_id(self) -> str:
        return str(self.payload.get("external_id") or "")


@dataclass
class File:
    id: str
    name: str
    length: int
    title: str | None = None
    content: bytes | None = None
    channels: list[str] = field(default_factory=list)
    user: str = ""
    created: int = 0
    alt_txt: str | None = None

    @property
    def mimetype(self) -> str:
        lower = self.name.lower()
        for suffix, kind in (
            (".png", "image/png"),
            (".csv", "text/csv"),
            (".json", "application/json"),
        ):
            if lower.endswith(suffix):
                return kind
        return "text/plain" if lower.endswith(".txt") else "application/octet-stream"


@dataclass
class Trigger:
    id: str
    user_id: str
    issued: float  # time.monotonic()
    used: bool = False
    view_id: str | None = None  # set when the interaction came from inside a modal


class Ids:
    """Seeded id and timestamp factory: `C…`, `U…`, `V…`, `F…`, `Bk…`; strictly increasing `ts`."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._last_ts = 0.0

    def make(self, prefix: str, length: int = 10) -> str:
        alphabet = string.ascii_uppercase + string.digits
        return prefix + "".join(self.rng.choice(alphabet) for _ in range(length))

    def hex(self, length: int = 32) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(length))

    def ts(self) -> str:
        """Message timestamps are unique per channel; here they are unique per workspace."""
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def view_hash(self) -> str:
        return f"{int(time.time())}.{self.rng.randrange(10**7, 10**8)}"
