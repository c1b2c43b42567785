"""The sandbox's workspace state and the operations shared by Web API methods and simulated users.

Visibility follows Slack: a bot sees public channels, and private channels only when it is a member
(otherwise `channel_not_found`); message events are delivered for conversations the bot is in
(SLACK_NOTES §10.2, `message.channels` / `.groups` / `.im`).
"""

from __future__ import annotations

import builtins
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.slack.blockkit import BlockKitChecker, Problem
from sandbox.slack.contract import Violation, broadcast_mentions
from sandbox.slack.state import (
    JSON,
    Channel,
    Ephemeral,
    File,
    Ids,
    Message,
    SlackError,
    Trigger,
    User,
    Usergroup,
    View,
)

EventSink = Callable[[str, JSON], None]

#: The subscription that carries `message` events of a conversation type (§10.2): the event's
#: `channel_type` is singular (`channel`, `group`, `im`, `mpim`), the subscription plural but for `im`.
MESSAGE_SUBSCRIPTIONS = {
    "channel": "message.channels",
    "group": "message.groups",
    "im": "message.im",
    "mpim": "message.mpim",
}


@dataclass
class ResponseUrl:
    """A `response_url`: usable 5 times within 30 minutes (SLACK_NOTES §6.7, [interactivity])."""

    token: str
    user_id: str
    channel_id: str | None
    message_ts: str | None = None
    ephemeral: bool = False
    issued: float = field(default_factory=time.monotonic)
    uses: int = 0


class Args:
    """Typed access to merged request arguments (query + form + JSON, SLACK_NOTES §3.2)."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def str(self, name: builtins.str, default: builtins.str | None = None) -> builtins.str | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        return (
            value
            if isinstance(value, str)
            else json.dumps(value)
            if isinstance(value, (dict, list))
            else str(value)
        )

    def need(self, name: builtins.str) -> builtins.str:
        value = self.str(name)
        if value is None:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": [f"[ERROR] missing required field: {name}"]},
            )
        return value

    def bool(self, name: builtins.str, default: builtins.bool = False) -> builtins.bool:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in {"1", "true", "yes", "on"}

    def int(self, name: builtins.str, default: builtins.int) -> builtins.int:
        value = self.raw.get(name)
        try:
            return int(value) if value not in (None, "") else default
        except (TypeError, ValueError):
            return default

    def list(self, name: builtins.str) -> builtins.list[builtins.str]:
        value = self.raw.get(name)
        if value is None or value == "":
            return []
        if isinstance(value, list):
            return [str(v) for v in value]
        return [part.strip() for part in str(value).split(",") if part.strip()]

    def json(self, name: builtins.str, error: builtins.str = "invalid_arguments") -> Any:
        """A structured argument sent as a JSON value or as a JSON-encoded string (§3.2)."""
        value = self.raw.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise SlackError(error) from None
        return value


class Workspace:
    """All state, plus the helpers the Web API methods and the user simulation share."""

    def __init__(
        self,
        *,
        team_id: str,
        team_name: str,
        app_id: str,
        bot_user_id: str,
        bot_id: str,
        bot_scopes: frozenset[str],
        rng: random.Random,
        strict_block_kit: bool,
        trigger_ttl: float,
        home_tab_enabled: bool = True,
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.domain = "firefighter-sandbox"
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_scopes = bot_scopes
        self.ids = Ids(rng)
        self.rng = rng
        self.blockkit = BlockKitChecker(strict=strict_block_kit)
        self.trigger_ttl = trigger_ttl
        self.home_tab_enabled = home_tab_enabled
        self.base_url = ""  # http://127.0.0.1:PORT, set by the server once it listens
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, Usergroup] = {}
        self.channels: dict[str, Channel] = {}
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        self.view_stacks: dict[str, list[str]] = {}
        self.home_views: dict[str, str] = {}
        self.triggers: dict[str, Trigger] = {}
        self.files: dict[str, File] = {}
        self.upload_tokens: dict[str, str] = {}  # upload token → file id
        self.response_urls: dict[str, ResponseUrl] = {}
        self.user_errors: list[str] = []  # what users saw go wrong ("the app did not respond")
        self.violations: list[Violation] = []
        self.event_sink: EventSink = lambda subscription, event: None
        self.users[bot_user_id] = User(
            id=bot_user_id,
            name="firefighter",
            real_name="FireFighter",
            email=None,
            is_bot=True,
            bot_id=bot_id,
        )

    # -- violations -------------------------------------------------------------------------------
    def report(self, method: str, kind: str, detail: str) -> None:
        self.violations.append(Violation(method, kind, detail))

    def check_broadcast(self, method: str, *values: Any) -> None:
        found = broadcast_mentions(*values)
        if found:
            self.report(method, "unescaped_broadcast", f"text contains {sorted(set(found))}")

    def check_message_blocks(self, method: str, blocks: Any) -> None:
        """Refuse invalid message blocks with `invalid_blocks` and record the violation."""
        if blocks is None:
            return
        problems = self.blockkit.check_message_blocks(blocks)
        if problems:
            self.report(method, "invalid_blocks", "; ".join(map(str, problems)))
            raise SlackError(
                "invalid_blocks", response_metadata={"messages": [str(p) for p in problems]}
            )

    def check_view(self, method: str, view: Any) -> None:
        """Refuse invalid views with `invalid_arguments` + messages and record the violation."""
        problems: list[Problem] = self.blockkit.check_view(view)
        if problems:
            self.report(method, "invalid_view", "; ".join(map(str, problems)))
            raise SlackError(
                "invalid_arguments", response_metadata={"messages": [str(p) for p in problems]}
            )

    # -- lookups ----------------------------------------------------------------------------------
    def user(self, user_id: str | None, error: str = "user_not_found") -> User:
        user = self.users.get(user_id or "")
        if user is None:
            raise SlackError(error)
        return user

    def channel(self, channel_id: str | None, *, as_bot: bool = True) -> Channel:
        """A conversation the bot can see; private ones it is not in answer `channel_not_found`."""
        channel = self.channels.get(channel_id or "")
        if channel is None or (
            as_bot and channel.is_private and self.bot_user_id not in channel.members
        ):
            raise SlackError("channel_not_found")
        return channel

    def message(self, channel: Channel, ts: str | None) -> Message:
        message = channel.messages.get(ts or "")
        if message is None:
            raise SlackError("message_not_found")
        return message

    # -- conversations ----------------------------------------------------------------------------
    def create_channel(
        self, name: str, *, is_private: bool, creator: str, members: list[str]
    ) -> Channel:
        channel = Channel(
            id=self.ids.make("C"),
            name=name,
            is_private=is_private,
            created=int(time.time()),
            creator=creator,
            members=list(dict.fromkeys(members)),
        )
        self.channels[channel.id] = channel
        return channel

    def dm_channel(self, user_id: str) -> Channel:
        """The bot's DM with a user (ids start with D, `conversations.open`)."""
        for channel in self.channels.values():
            if channel.is_im and channel.im_user == user_id:
                return channel
        channel = Channel(
            id=self.ids.make("D"),
            name=user_id,
            is_private=True,
            created=int(time.time()),
            creator=self.bot_user_id,
            members=[self.bot_user_id, user_id],
            is_im=True,
            im_user=user_id,
        )
        self.channels[channel.id] = channel
        return channel

    def add_member(self, channel: Channel, user_id: str, *, inviter: str | None = None) -> None:
        """Join + the `channel_join` system message + `member_joined_channel` (§10.2)."""
        if user_id in channel.members:
            return
        channel.members.append(user_id)
        if channel.is_im:
            return
        name = self.users[user_id].name if user_id in self.users else user_id
        self.post(
            channel, user_id, f"<@{user_id}|{name}> has joined the channel", subtype="channel_join"
        )
        event: JSON = {
            "type": "member_joined_channel",
            "user": user_id,
            "channel": channel.id,
            "channel_type": "G" if channel.is_private else "C",
            "team": self.team_id,
            "event_ts": self.ids.ts(),
        }
        if inviter:
            event["inviter"] = inviter
        self.emit_in(channel, "member_joined_channel", event)

    def remove_member(self, channel: Channel, user_id: str) -> None:
        if user_id not in channel.members:
            return
        was_visible = self.bot_user_id in channel.members
        channel.members.remove(user_id)
        event: JSON = {
            "type": "member_left_channel",
            "user": user_id,
            "channel": channel.id,
            "channel_type": "G" if channel.is_private else "C",
            "team": self.team_id,
            "event_ts": self.ids.ts(),
        }
        if was_visible:
            self.event_sink("member_left_channel", event)

    def channel_json(self, channel: Channel, *, include_num_members: bool = False) -> JSON:
        """A conversation object shaped like `methods/conversations.create.json` `examples.success`."""
        if channel.is_im:
            return {
                "id": channel.id,
                "created": channel.created,
                "is_im": True,
                "is_org_shared": False,
                "user": channel.im_user,
                "is_user_deleted": False,
                "priority": 0,
            }
        body: JSON = {
            "id": channel.id,
            "name": channel.name,
            "is_channel": not channel.is_private and not channel.is_mpim,
            "is_group": channel.is_private and not channel.is_mpim,
            "is_im": False,
            "is_mpim": channel.is_mpim,
            "is_private": channel.is_private,
            "created": channel.created,
            "creator": channel.creator,
            "is_archived": channel.is_archived,
            "is_general": channel.is_general,
            "unlinked": 0,
            "name_normalized": channel.name,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "pending_shared": [],
            "is_pending_ext_shared": False,
            "is_member": self.bot_user_id in channel.members,
            "topic": dict(channel.topic),
            "purpose": dict(channel.purpose),
            "previous_names": list(channel.previous_names),
            "context_team_id": self.team_id,
            "updated": int(time.time() * 1000),
        }
        if include_num_members:
            body["num_members"] = len(channel.members)
        return body

    # -- user groups ------------------------------------------------------------------------------
    def usergroup_json(
        self, group: Usergroup, *, include_users: bool = False, include_count: bool = False
    ) -> JSON:
        """A user group shaped like `methods/usergroups.list.json` `examples.success`."""
        body: JSON = {
            "id": group.id,
            "team_id": self.team_id,
            "is_usergroup": True,
            "name": group.name,
            "description": "",
            "handle": group.handle,
            "is_external": False,
            "date_create": group.created,
            "date_update": group.updated or group.created,
            "date_delete": 0,
            "auto_type": None,
            "created_by": "USLACKBOT",
            "updated_by": "USLACKBOT",
            "deleted_by": None,
            "prefs": {"channels": [], "groups": []},
        }
        if include_users:
            body["users"] = list(group.users)
        if include_count:
            body["user_count"] = str(len(group.users))
        return body

    def create_usergroup(self, handle: str, name: str, *, emit: bool) -> Usergroup:
        """A new, empty group; `subteam_created` when `emit` (scope `usergroups:read`)."""
        group = Usergroup(self.ids.make("S"), handle, name, [], int(time.time()))
        self.usergroups[group.id] = group
        if emit:
            event: JSON = {"type": "subteam_created", "subteam": self.usergroup_json(group)}
            event["subteam"]["user_count"] = "0"
            event["event_ts"] = self.ids.ts()
            self.event_sink("subteam_created", event)
        return group

    def set_usergroup_members(self, group: Usergroup, users: list[str], *, emit: bool) -> None:
        """Replace the members (as `usergroups.users.update`); when `emit` and they changed, Slack
        sends `subteam_updated` (the group with its users, truncated at 500) and
        `subteam_members_changed` (the delta)."""
        before = list(group.users)
        after = list(dict.fromkeys(users))
        if after == before:
            return
        previous_update = group.updated or group.created
        group.users = after
        group.updated = max(int(time.time()), previous_update)
        if not emit:
            return
        snapshot = self.usergroup_json(group)
        snapshot.update(is_subteam=True, users=after[:500], user_count=len(after), channel_count=0)
        self.event_sink(
            "subteam_updated",
            {"type": "subteam_updated", "subteam": snapshot, "event_ts": self.ids.ts()},
        )
        added = [u for u in after if u not in before]
        removed = [u for u in before if u not in after]
        self.event_sink(
            "subteam_members_changed",
            {
                "type": "subteam_members_changed",
                "subteam_id": group.id,
                "team_id": self.team_id,
                "date_previous_update": previous_update,
                "date_update": group.updated,
                "added_users": added,
                "added_users_count": str(len(added)),
                "removed_users": removed,
                "removed_users_count": str(len(removed)),
                "event_ts": self.ids.ts(),
            },
        )

    # -- messages ---------------------------------------------------------------------------------
    def post(
        self,
        channel: Channel,
        user_id: str | None,
        text: str,
        *,
        blocks: list[Any] | None = None,
        attachments: list[Any] | None = None,
        subtype: str | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        files: list[str] | None = None,
        metadata: JSON | None = None,
    ) -> Message:
        """Store a message (threads, broadcasts) and emit the `message` event Slack would send."""
        is_bot = user_id == self.bot_user_id
        message = Message(
            ts=self.ids.ts(),
            channel=channel.id,
            user=user_id,
            text=text,
            blocks=blocks,
            attachments=attachments,
            bot_id=self.bot_id if is_bot else None,
            subtype=subtype,
            thread_ts=thread_ts,
            reply_broadcast=reply_broadcast,
            files=list(files or []),
            metadata=metadata,
        )
        if thread_ts:
            parent = channel.messages[thread_ts]
            parent.thread_ts = parent.ts
            parent.replies.append(message.ts)
        channel.messages[message.ts] = message
        self.emit_message(channel, message)
        return message

    def message_json(self, message: Message, *, with_replies: bool = True) -> JSON:
        body: JSON = {"type": "message", "ts": message.ts, "text": message.text}
        if message.user:
            body["user"] = message.user
        body["team"] = self.team_id
        if message.subtype:
            body["subtype"] = message.subtype
        if message.bot_id:
            body["bot_id"] = message.bot_id
            body["app_id"] = self.app_id
            body["bot_profile"] = {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": "FireFighter",
                "deleted": False,
                "team_id": self.team_id,
            }
        if message.blocks is not None:
            body["blocks"] = message.blocks
        if message.attachments is not None:
            body["attachments"] = message.attachments
        if message.thread_ts:
            body["thread_ts"] = message.thread_ts
            if message.thread_ts != message.ts:
                channel = self.channels[message.channel]
                parent = channel.messages.get(message.thread_ts)
                body["parent_user_id"] = parent.user if parent else None
                if message.reply_broadcast:
                    body["subtype"] = "thread_broadcast"
            elif with_replies:
                channel = self.channels[message.channel]
                replies = [channel.messages[ts] for ts in message.replies if ts in channel.messages]
                body["reply_count"] = len(replies)
                body["reply_users"] = sorted({r.user for r in replies if r.user})
                body["reply_users_count"] = len(body["reply_users"])
                body["latest_reply"] = replies[-1].ts if replies else message.ts
        if message.reactions:
            body["reactions"] = [
                {"name": name, "users": list(users), "count": len(users)}
                for name, users in message.reactions.items()
            ]
        if message.files:
            body["files"] = [
                self.file_json(self.files[f]) for f in message.files if f in self.files
            ]
            body["upload"] = True
        if message.edited:
            body["edited"] = message.edited
        if message.metadata:
            body["metadata"] = message.metadata
        return body

    def permalink(self, channel_id: str, ts: str) -> str:
        link = f"https://{self.domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"
        channel = self.channels.get(channel_id)
        message = channel.messages.get(ts) if channel else None
        if message and message.thread_ts and message.thread_ts != ts:
            link += f"?thread_ts={message.thread_ts}&cid={channel_id}"
        return link

    def file_json(self, file: File) -> JSON:
        return {
            "id": file.id,
            "created": file.created,
            "timestamp": file.created,
            "name": file.name,
            "title": file.title or file.name,
            "mimetype": file.mimetype,
            "filetype": file.name.rsplit(".", 1)[-1] if "." in file.name else "binary",
            "user": file.user,
            "size": len(file.content or b""),
            "is_public": bool(file.channels),
            "url_private": f"{self.base_url}/files/{file.id}/{file.name}",
            "url_private_download": f"{self.base_url}/files/{file.id}/{file.name}",
            "permalink": f"https://{self.domain}.slack.com/files/{file.user}/{file.id}/{file.name}",
            "channels": list(file.channels),
        }

    # -- events -----------------------------------------------------------------------------------
    def emit_in(self, channel: Channel, subscription: str, event: JSON) -> None:
        """Events about a conversation reach the app only when the bot is a member of it."""
        if self.bot_user_id in channel.members:
            self.event_sink(subscription, event)

    def emit_message(self, channel: Channel, message: Message) -> None:
        event = self.message_json(message, with_replies=False)
        event["channel"] = channel.id
        event["event_ts"] = message.ts
        event["channel_type"] = channel.channel_type
        self.emit_in(channel, MESSAGE_SUBSCRIPTIONS[channel.channel_type], event)
        if (
            message.user != self.bot_user_id
            and f"<@{self.bot_user_id}>" in message.text
            and not message.subtype
        ):
            mention = {k: v for k, v in event.items() if k != "channel_type"}
            mention["type"] = "app_mention"
            self.event_sink("app_mention", mention)

    # -- views ------------------------------------------------------------------------------------
    def new_trigger(self, user_id: str, view_id: str | None = None) -> str:
        trigger_id = f"{self.rng.randrange(10**9, 10**10)}.{self.rng.randrange(10**9, 10**10)}.{self.ids.hex()}"
        self.triggers[trigger_id] = Trigger(trigger_id, user_id, time.monotonic(), view_id=view_id)
        return trigger_id

    def view_json(self, view: View) -> JSON:
        """A view as Slack returns it (`methods/views.open.json` `examples.success`, §5.2)."""
        payload = view.payload
        body: JSON = {
            "id": view.id,
            "team_id": self.team_id,
            "type": view.type,
            "blocks": payload.get("blocks", []),
            "private_metadata": payload.get("private_metadata", ""),
            "callback_id": payload.get("callback_id", ""),
            "external_id": view.external_id,
            "state": {"values": {}},
            "hash": view.hash,
            "title": payload.get("title"),
            "clear_on_close": bool(payload.get("clear_on_close", False)),
            "notify_on_close": bool(payload.get("notify_on_close", False)),
            "close": payload.get("close"),
            "submit": payload.get("submit"),
            "previous_view_id": view.previous_view_id,
            "root_view_id": view.root_view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        if view.type == "home":
            for key in ("title", "close", "submit", "clear_on_close", "notify_on_close"):
                body.pop(key, None)
        return body

    def find_view(self, view_id: str | None = None, external_id: str | None = None) -> View:
        if view_id:
            view = self.views.get(view_id)
        else:
            view = next(
                (
                    v
                    for v in self.views.values()
                    if external_id and v.external_id == external_id and not v.closed
                ),
                None,
            )
        if view is None or view.closed:
            raise SlackError("not_found")
        return view

    def ensure_unique_external_id(self, payload: JSON, *, except_view: str | None = None) -> None:
        external_id = payload.get("external_id")
        if not external_id:
            return
        for view in self.views.values():
            if view.id != except_view and not view.closed and view.external_id == external_id:
                raise SlackError("duplicate_external_id")

    def user_stack(self, user_id: str) -> list[str]:
        return self.view_stacks.setdefault(user_id, [])

    def close_views(self, user_id: str, *, all_views: bool) -> list[View]:
        stack = self.user_stack(user_id)
        closed: list[View] = []
        while stack:
            view = self.views[stack.pop()]
            view.closed = True
            closed.append(view)
            if not all_views:
                break
        return closed
