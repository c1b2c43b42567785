"""``SlackChat``: the ``Chat`` port over slack_sdk's ``AsyncWebClient``.

Every Slack error becomes a ``ChatError`` saying whether a retry may help (429 with its
``Retry-After``, network failures, Slack's own ``internal_error``/``fatal_error``…); the outbox
worker decides what to do with it. Look-ups of configured names (``#incidents``, ``@sre``,
``ops.lead@example.com``) are cached: they are on every declaration's path and change rarely.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.ports import ChannelInfo, ChatError, Message

log = logging.getLogger("firefighter.slack")

TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
        "network",
    }
)
"""Errors worth retrying later; every other Slack error code is permanent for that call."""

CACHE_SECONDS = 600.0
GROUP_CACHE_SECONDS = 300.0
"""How long user group members are kept, empty groups included. Slack's ``subteam_*`` events drop
them at once (``forget_usergroups``); this bounds how stale a group is when an event was missed
(or went to another replica's connection)."""
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")
_USERGROUP_ID = re.compile(r"S[A-Z0-9]{6,}")

_T = TypeVar("_T")


def _error_of(exc: Exception, method: str) -> ChatError:
    if isinstance(exc, SlackApiError):
        response = exc.response
        code = str(response.get("error") or f"http_{response.status_code}")
        retry_after: float | None = None
        if response.status_code == 429:
            code = "ratelimited"
            raw = response.headers.get("Retry-After") or response.headers.get("retry-after")
            try:
                retry_after = float(raw) if raw is not None else None
            except (TypeError, ValueError):
                retry_after = None
        transient = code in TRANSIENT_ERRORS or response.status_code >= 500
        return ChatError(code, method=method, retry_after=retry_after, transient=transient)
    return ChatError("network", method=method, transient=True)


def _refused(errors: Sequence[Any]) -> dict[str, str]:
    return {
        str(item.get("user")): str(item.get("error"))
        for item in errors
        if isinstance(item, dict) and item.get("user")
    }


class SlackChat:
    def __init__(self, client: AsyncWebClient, bot_user_id: str) -> None:
        self.client = client
        self.bot_user_id = bot_user_id
        self._cache: dict[str, tuple[float, Any]] = {}
        self._loading: dict[str, asyncio.Future[Any]] = {}
        self._groups_generation = 0

    async def _call(self, method: str, call: Awaitable[_T]) -> _T:
        try:
            return await call
        except (TimeoutError, SlackApiError, aiohttp.ClientError) as exc:
            raise _error_of(exc, method) from exc

    # --- channels ---------------------------------------------------------------------------

    async def create_channel(self, name: str, *, private: bool) -> str:
        response = await self._call(
            "conversations.create",
            self.client.conversations_create(name=name, is_private=private),
        )
        return str(response["channel"]["id"])

    async def find_channel(self, name: str) -> ChannelInfo | None:
        """Look the channel named ``name`` up among the channels the bot can see."""
        cursor: str | None = None
        while True:
            response = await self._call(
                "conversations.list",
                self.client.conversations_list(
                    types="public_channel,private_channel", limit=1000, cursor=cursor
                ),
            )
            for channel in response.get("channels") or []:
                if channel.get("name") == name:
                    return ChannelInfo(
                        id=channel["id"],
                        name=channel["name"],
                        creator=channel.get("creator"),
                        is_archived=bool(channel.get("is_archived")),
                        is_private=bool(channel.get("is_private")),
                    )
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None

    async def invite(self, channel_id: str, user_ids: Sequence[str]) -> dict[str, str]:
        """One call for everyone (``force``: the valid ones are invited even when some are
        not); returns ``{user: error}`` for those who could not be, already-members included."""
        users = [u for u in dict.fromkeys(user_ids) if u and u != self.bot_user_id]
        if not users:
            return {}
        try:
            response = await self.client.conversations_invite(
                channel=channel_id, users=users, force=True
            )
        except SlackApiError as exc:
            error = _error_of(exc, "conversations.invite")
            listed = exc.response.get("errors") if isinstance(exc.response.data, dict) else None
            if error.transient or not listed:
                if not error.transient and len(users) == 1:
                    return {users[0]: error.code}
                raise error from exc
            return _refused(listed)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _error_of(exc, "conversations.invite") from exc
        return _refused(response.get("errors") or [])

    async def set_topic(self, channel_id: str, topic: str) -> None:
        await self._call(
            "conversations.setTopic",
            self.client.conversations_setTopic(channel=channel_id, topic=topic),
        )

    async def archive(self, channel_id: str) -> None:
        try:
            await self._call(
                "conversations.archive",
                self.client.conversations_archive(channel=channel_id),
            )
        except ChatError as error:
            if error.code != "already_archived":
                raise

    async def unarchive(self, channel_id: str) -> None:
        try:
            await self._call(
                "conversations.unarchive", self.client.conversations_unarchive(channel=channel_id)
            )
        except ChatError as error:
            if error.code != "not_archived":
                raise

    async def join(self, channel_id: str) -> None:
        await self._call("conversations.join", self.client.conversations_join(channel=channel_id))

    async def channel_info(self, channel_id: str) -> ChannelInfo | None:
        try:
            response = await self._call(
                "conversations.info", self.client.conversations_info(channel=channel_id)
            )
        except ChatError as error:
            if error.code == "channel_not_found":
                return None
            raise
        channel = response["channel"]
        return ChannelInfo(
            id=channel["id"],
            name=str(channel.get("name") or ""),
            creator=channel.get("creator"),
            is_archived=bool(channel.get("is_archived")),
            is_private=bool(channel.get("is_private")),
        )

    async def add_bookmark(self, channel_id: str, title: str, link: str) -> None:
        await self._call(
            "bookmarks.add",
            self.client.bookmarks_add(channel_id=channel_id, title=title, type="link", link=link),
        )

    # --- messages ---------------------------------------------------------------------------

    async def post(
        self,
        channel_id: str,
        message: Message,
        *,
        thread_ts: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        kwargs: dict[str, Any] = dict(message)
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if metadata is not None:
            kwargs["metadata"] = dict(metadata)
        response = await self._call(
            "chat.postMessage",
            self.client.chat_postMessage(channel=channel_id, **kwargs),
        )
        return str(response["ts"])

    async def update(self, channel_id: str, ts: str, message: Message) -> None:
        await self._call(
            "chat.update",
            self.client.chat_update(channel=channel_id, ts=ts, **dict(message)),
        )

    async def pin(self, channel_id: str, ts: str) -> None:
        try:
            await self._call("pins.add", self.client.pins_add(channel=channel_id, timestamp=ts))
        except ChatError as error:
            if error.code != "already_pinned":
                raise

    async def delete(self, channel_id: str, ts: str) -> None:
        try:
            await self._call("chat.delete", self.client.chat_delete(channel=channel_id, ts=ts))
        except ChatError as error:
            if error.code != "message_not_found":
                raise

    async def _history(self, channel_id: str, oldest: str | None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"channel": channel_id, "limit": 200, "include_all_metadata": True}
        if oldest:
            kwargs["oldest"] = oldest
        response: AsyncSlackResponse = await self._call(
            "conversations.history", self.client.conversations_history(**kwargs)
        )
        return list(response.get("messages") or [])

    async def find_message(
        self, channel_id: str, event_type: str, incident_id: int, *, oldest: str | None = None
    ) -> str | None:
        for message in await self._history(channel_id, oldest):
            metadata = message.get("metadata") or {}
            if (
                metadata.get("event_type") == event_type
                and (metadata.get("event_payload") or {}).get("incident_id") == incident_id
            ):
                return str(message["ts"])
        return None

    async def topic_notices(self, channel_id: str, *, oldest: str | None = None) -> list[str]:
        return [
            str(message["ts"])
            for message in await self._history(channel_id, oldest)
            if message.get("subtype") == "channel_topic" and message.get("user") == self.bot_user_id
        ]

    async def dm(self, user_id: str, message: Message) -> str:
        response = await self._call(
            "conversations.open", self.client.conversations_open(users=user_id)
        )
        return await self.post(str(response["channel"]["id"]), message)

    async def dm_channel(self, user_id: str) -> str:
        response = await self._call(
            "conversations.open", self.client.conversations_open(users=user_id)
        )
        return str(response["channel"]["id"])

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
        """``files.getUploadURLExternal`` → POST the bytes → ``files.completeUploadExternal``
        (slack_sdk's ``files_upload_v2``; no ``files.info`` afterwards)."""
        kwargs: dict[str, Any] = {}
        if comment:
            kwargs["initial_comment"] = comment
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        response = await self._call(
            "files.completeUploadExternal",
            self.client.files_upload_v2(
                channel=channel_id,
                file=content,
                filename=filename,
                title=title,
                request_file_info=False,
                **kwargs,
            ),
        )
        files = response.get("files") or [{}]
        return str(files[0].get("id") or "")

    async def file_content(self, file_id: str) -> tuple[str, bytes]:
        """``files.info`` for the name and ``url_private``, then the bytes with the bot token
        (Slack serves private files only to an authorised request)."""
        response = await self._call("files.info", self.client.files_info(file=file_id))
        info = response["file"]
        url = str(info.get("url_private_download") or info.get("url_private") or "")
        if not url:
            raise ChatError("file_not_found", method="files.info", transient=False)
        headers = {"Authorization": f"Bearer {self.client.token}"}
        timeout = aiohttp.ClientTimeout(total=60)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, headers=headers) as answer,
            ):
                if answer.status >= 400:
                    raise ChatError(
                        f"http_{answer.status}",
                        method="files.download",
                        transient=answer.status >= 500 or answer.status == 429,
                    )
                content = await answer.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ChatError("network", method="files.download", transient=True) from error
        return str(info.get("name") or file_id), content

    async def ephemeral(self, channel_id: str, user_id: str, message: Message) -> None:
        await self._call(
            "chat.postEphemeral",
            self.client.chat_postEphemeral(channel=channel_id, user=user_id, **dict(message)),
        )

    async def permalink(self, channel_id: str, ts: str) -> str | None:
        try:
            response = await self._call(
                "chat.getPermalink",
                self.client.chat_getPermalink(channel=channel_id, message_ts=ts),
            )
        except ChatError:
            return None
        return str(response.get("permalink") or "") or None

    # --- directory (cached) -----------------------------------------------------------------

    async def _cached(
        self,
        key: str,
        load: Callable[[], Awaitable[_T]],
        *,
        keep_empty: bool = False,
        ttl: float = CACHE_SECONDS,
    ) -> _T:
        hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < ttl:
            value: _T = hit[1]
            return value
        loading = self._loading.get(key)
        if loading is None:  # else the same look-up is in flight: its answer is shared
            loading = asyncio.ensure_future(self._load(key, load, keep_empty=keep_empty))
            self._loading[key] = loading
            loading.add_done_callback(lambda done: self._loaded(key, done))
        shared: _T = await asyncio.shield(loading)
        return shared

    async def _load(self, key: str, load: Callable[[], Awaitable[_T]], *, keep_empty: bool) -> _T:
        generation = self._groups_generation
        loaded = await load()
        # A group read before a subteam event dropped the groups may predate the change.
        stale = key.startswith("group:") and generation != self._groups_generation
        if (loaded or keep_empty) and not stale:  # else "not found" is asked again next time
            self._cache[key] = (time.monotonic(), loaded)
        return loaded

    def _loaded(self, key: str, done: asyncio.Future[Any]) -> None:
        if self._loading.get(key) is done:
            del self._loading[key]
        if not done.cancelled():
            done.exception()  # retrieved even when every caller was cancelled meanwhile

    async def warm_up(self, references: tuple[list[str], list[str], list[str]]) -> None:
        """Resolve the configured channels, groups and users ahead of the first incident, so that
        a declaration's path has no look-up on it. Failures only log (the path resolves again)."""
        channels, groups, users = references
        results = await asyncio.gather(
            *(self.resolve_channel(c) for c in dict.fromkeys(channels)),
            *(self.usergroup_members(g) for g in dict.fromkeys(groups)),
            *(self.resolve_user(u) for u in dict.fromkeys(users)),
            return_exceptions=True,
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            log.warning(
                "could not resolve some configured Slack names", extra={"failed": len(failed)}
            )

    def forget(self) -> None:
        """Drop cached look-ups (after a refresh job, or a config reload)."""
        self._cache.clear()
        self._groups_generation += 1

    def forget_usergroups(self) -> None:
        """Drop every cached user group (a ``subteam_*`` event: a group was created, renamed,
        disabled or its members changed). Look-ups in flight are not kept either."""
        self._groups_generation += 1
        for key in [k for k in self._cache if k.startswith("group:")]:
            del self._cache[key]
        for key in [k for k in self._loading if k.startswith("group:")]:
            del self._loading[key]  # callers already waiting get its answer; new ones ask again

    async def resolve_channel(self, reference: str) -> str | None:
        """A channel id, or a name (``incidents`` or ``#incidents``) → the id (None when the bot
        cannot see such a channel)."""
        if _CHANNEL_ID.fullmatch(reference):
            return reference
        name = reference.removeprefix("#")

        async def load() -> str | None:
            found = await self.find_channel(name)
            return found.id if found and not found.is_archived else None

        return await self._cached(f"channel:{reference}", load)

    async def resolve_user(self, reference: str) -> str | None:
        """A user id, or the email of a Slack account → the id of an active user (None when
        unknown or deactivated). A configured user who does not exist is remembered as such, so
        a stale name in the catalog never costs a declaration a failed invitation."""
        return await self._user(reference, configured=True)

    async def user_by_email(self, email: str) -> str | None:
        """The active Slack user with this e-mail (a person known to Jira or PagerDuty), None
        when there is none: no match is no news, so nothing is logged."""
        return await self._user(email, configured=False)

    async def _user(self, reference: str, *, configured: bool) -> str | None:
        async def load() -> str | None:
            try:
                if "@" in reference:
                    response = await self._call(
                        "users.lookupByEmail", self.client.users_lookupByEmail(email=reference)
                    )
                else:
                    response = await self._call(
                        "users.info", self.client.users_info(user=reference)
                    )
            except ChatError as error:
                if error.code in ("users_not_found", "user_not_found"):
                    if configured:
                        log.warning(
                            "a configured Slack user does not exist", extra={"user": reference}
                        )
                    return ""
                raise
            user = response["user"]
            return "" if user.get("deleted") else str(user["id"])

        return await self._cached(f"user:{reference}", load, keep_empty=True) or None

    async def user_email(self, user_id: str) -> str | None:
        async def load() -> str | None:
            try:
                response = await self._call("users.info", self.client.users_info(user=user_id))
            except ChatError as error:
                if error.code in ("users_not_found", "user_not_found"):
                    return ""
                raise
            user = response["user"]
            email = (user.get("profile") or {}).get("email")
            return "" if user.get("deleted") or not email else str(email)

        return await self._cached(f"email:{user_id}", load, keep_empty=True) or None

    async def usergroup_members(self, reference: str) -> list[str]:
        """A group id (``S…``) or handle (``payments-oncall`` or ``@payments-oncall``) → its
        members (empty when unknown). Empty and unknown groups are remembered too (every access
        check asks for the incident managers: asking ``usergroups.list``, tier 2, each time an
        empty group was configured cost a call per check); ``forget_usergroups`` drops them when
        Slack says a group changed."""
        handle = reference.removeprefix("@")

        async def load() -> list[str]:
            group_id: str | None = reference
            if not _USERGROUP_ID.fullmatch(reference):
                response = await self._call("usergroups.list", self.client.usergroups_list())
                group_id = next(
                    (
                        g["id"]
                        for g in response.get("usergroups") or []
                        if g.get("handle") == handle
                    ),
                    None,
                )
            if group_id is None:
                return []
            found = group_id
            try:
                users = await self._call(
                    "usergroups.users.list",
                    self.client.usergroups_users_list(usergroup=found),
                )
            except ChatError as error:
                if error.code in ("no_such_subteam", "subteam_not_found"):
                    return []
                raise
            return [str(u) for u in users.get("users") or []]

        return await self._cached(
            f"group:{reference}", load, keep_empty=True, ttl=GROUP_CACHE_SECONDS
        )
