"""Small typed Protocols the service needs; adapters in ``integrations/`` implement them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class Clock(Protocol):
    """Time is injected (ARCHITECTURE principle 7); storage and logic take ``now`` from here."""

    def now(self) -> datetime:
        """The current time, tz-aware UTC."""
        ...


class ChatError(Exception):
    """A Slack call failed. ``code`` is Slack's error code (``name_taken``…), ``ratelimited`` for a
    429 (with ``retry_after`` seconds) or ``network`` when Slack could not be reached;
    ``transient`` says whether trying again later may succeed."""

    def __init__(
        self, code: str, *, method: str = "", retry_after: float | None = None, transient: bool
    ) -> None:
        super().__init__(f"{method}: {code}" if method else code)
        self.code = code
        self.method = method
        self.retry_after = retry_after
        self.transient = transient


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
    async def usergroup_members(self, reference: str) -> list[str]: ...
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

    async def dm_channel(self, user_id: str) -> str:
        """The id of the bot's direct-message conversation with ``user_id``."""
        ...
