"""conversations.*: channels with names, privacy, members, archive state, topic, purpose, history.

Name rules (SLACK_NOTES §4.1, `methods/conversations.create.json` errors): lowercase letters, digits,
`-`, `_`; at most 80 characters (commonly quoted, not confirmed by the artefacts); `name_taken` includes
archived channels. The bot must be a member for most writes (`not_in_channel`, §9).
"""

from __future__ import annotations

import re
import time
from typing import Any

from sandbox.slack.methods import method
from sandbox.slack.state import JSON, Channel, SlackError
from sandbox.slack.workspace import Args, Workspace

NAME_MAX = 80
TOPIC_MAX = 250
_ALLOWED = re.compile(r"^[a-z0-9_\-\u00c0-\uffff]+$")


def check_channel_name(ws: Workspace, name: str | None, *, except_id: str | None = None) -> str:
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > NAME_MAX:
        raise SlackError("invalid_name_maxlength")
    if not _ALLOWED.match(name):
        raise SlackError("invalid_name_specials")
    if not re.search(r"[a-z0-9]", name):
        raise SlackError("invalid_name_punctuation")
    for channel in ws.channels.values():
        if channel.id != except_id and not channel.is_im and channel.name == name:
            raise SlackError("name_taken")
    return name


def writable(ws: Workspace, args: Args, *, allow_archived: bool = False) -> Channel:
    """A channel the bot can change: visible, a member, not archived."""
    channel = ws.channel(args.str("channel"))
    if channel.is_archived and not allow_archived:
        raise SlackError("is_archived")
    if ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    return channel


@method("conversations.create")
def create(ws: Workspace, args: Args) -> JSON:
    name = check_channel_name(ws, args.str("name"))
    channel = ws.create_channel(
        name, is_private=args.bool("is_private"), creator=ws.bot_user_id, members=[ws.bot_user_id]
    )
    if not channel.is_private:
        created = {
            "id": channel.id,
            "name": name,
            "created": channel.created,
            "creator": ws.bot_user_id,
        }
        ws.event_sink(
            "channel_created",
            {"type": "channel_created", "channel": created, "event_ts": ws.ids.ts()},
        )
    return {"channel": ws.channel_json(channel)}


@method("conversations.invite")
def invite(ws: Workspace, args: Args) -> JSON:
    channel = ws.channel(args.str("channel"))
    if channel.is_archived:
        raise SlackError("is_archived")
    if ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    if channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    users = args.list("users")
    if not users:
        raise SlackError("no_user")
    errors: list[JSON] = []
    valid: list[str] = []
    for user_id in users:
        if user_id == ws.bot_user_id:
            code = "cant_invite_self"
        elif user_id not in ws.users or ws.users[user_id].deleted:
            code = "user_not_found"
        elif user_id in channel.members:
            code = "already_in_channel"
        else:
            valid.append(user_id)
            continue
        errors.append({"user": user_id, "ok": False, "error": code})
    if errors and not (args.bool("force") and valid):
        raise SlackError(errors[0]["error"], errors=errors)
    for user_id in valid:
        ws.add_member(channel, user_id, inviter=ws.bot_user_id)
    body: JSON = {"channel": ws.channel_json(channel)}
    if errors:
        body["errors"] = errors
    return body


@method("conversations.kick")
def kick(ws: Workspace, args: Args) -> JSON:
    channel = writable(ws, args, allow_archived=True)
    user_id = args.str("user")
    if user_id == ws.bot_user_id:
        raise SlackError("cant_kick_self")
    if user_id not in ws.users:
        raise SlackError("user_not_found")
    if user_id not in channel.members:
        raise SlackError("not_in_channel")
    ws.remove_member(channel, user_id)
    return {}


@method("conversations.join")
def join(ws: Workspace, args: Args) -> JSON:
    channel = ws.channel(args.str("channel"))
    if channel.is_im or channel.is_mpim:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    body: JSON = {}
    if ws.bot_user_id in channel.members:
        body["warning"] = "already_in_channel"
        body["response_metadata"] = {"warnings": ["already_in_channel"]}
    else:
        ws.add_member(channel, ws.bot_user_id)
    body["channel"] = ws.channel_json(channel)
    return body


@method("conversations.leave")
def leave(ws: Workspace, args: Args) -> JSON:
    channel = ws.channel(args.str("channel"))
    if channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    if ws.bot_user_id not in channel.members:
        return {"not_in_channel": True}
    ws.remove_member(channel, ws.bot_user_id)
    return {}


@method("conversations.archive")
def archive(ws: Workspace, args: Args) -> JSON:
    channel = ws.channel(args.str("channel"))
    if channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("already_archived")
    if channel.is_general:
        raise SlackError("cant_archive_general")
    if ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    ws.post(
        channel,
        ws.bot_user_id,
        f"<@{ws.bot_user_id}> archived the channel",
        subtype="channel_archive",
    )
    channel.is_archived = True
    ws.emit_in(
        channel,
        "group_archive" if channel.is_private else "channel_archive",
        {
            "type": "group_archive" if channel.is_private else "channel_archive",
            "channel": channel.id,
            "user": ws.bot_user_id,
        },
    )
    return {}


@method("conversations.unarchive")
def unarchive(ws: Workspace, args: Args) -> JSON:
    channel = ws.channel(args.str("channel"))
    if channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    if not channel.is_archived:
        raise SlackError("not_archived")
    channel.is_archived = False
    if ws.bot_user_id not in channel.members:
        channel.members.append(ws.bot_user_id)
    return {}


@method("conversations.rename")
def rename(ws: Workspace, args: Args) -> JSON:
    channel = writable(ws, args)
    name = check_channel_name(ws, args.str("name"), except_id=channel.id)
    if name != channel.name:
        channel.previous_names.insert(0, channel.name)
        channel.name = name
        ws.post(channel, ws.bot_user_id, f"renamed the channel to #{name}", subtype="channel_name")
    return {"channel": ws.channel_json(channel)}


def _set_text(ws: Workspace, args: Args, key: str, subtype: str, label: str) -> JSON:
    channel = writable(ws, args)
    value = args.str(key) or ""
    if len(value) > TOPIC_MAX:
        raise SlackError("too_long")
    setattr(channel, key, {"value": value, "creator": ws.bot_user_id, "last_set": int(time.time())})
    # Slack posts a system message for the change, which the app may delete (SLACK brief).
    text = f"set the channel {label}: {value}" if value else f"cleared the channel {label}"
    ws.post(channel, ws.bot_user_id, text, subtype=subtype)
    return {"channel": ws.channel_json(channel)}


@method("conversations.setTopic")
def set_topic(ws: Workspace, args: Args) -> JSON:
    return _set_text(ws, args, "topic", "channel_topic", "topic")


@method("conversations.setPurpose")
def set_purpose(ws: Workspace, args: Args) -> JSON:
    body = _set_text(ws, args, "purpose", "channel_purpose", "description")
    body["purpose"] = body["channel"]["purpose"]["value"]
    return body


@method("conversations.info")
def info(ws: Workspace, args: Args) -> JSON:
    channel = ws.channel(args.str("channel"))
    return {
        "channel": ws.channel_json(channel, include_num_members=args.bool("include_num_members"))
    }


def _paginate(items: list[Any], args: Args, default: int, maximum: int) -> tuple[list[Any], JSON]:
    cursor = args.str("cursor")
    try:
        start = int(cursor.removeprefix("bmV4dF90czo")) if cursor else 0
    except ValueError:
        raise SlackError("invalid_cursor") from None
    limit = max(1, min(args.int("limit", default) or default, maximum))
    page = items[start : start + limit]
    more = start + limit < len(items)
    return page, {"next_cursor": f"bmV4dF90czo{start + limit}" if more else ""}


@method("conversations.members")
def members(ws: Workspace, args: Args) -> JSON:
    channel = ws.channel(args.str("channel"))
    page, meta = _paginate(list(channel.members), args, 100, 1000)
    return {"members": page, "response_metadata": meta}


def _in_window(ts: str, args: Args) -> bool:
    oldest = args.str("oldest")
    latest = args.str("latest")
    inclusive = args.bool("inclusive")
    value = float(ts)
    if oldest and (value < float(oldest) or (value == float(oldest) and not inclusive)):
        return False
    return not (latest and (value > float(latest) or (value == float(latest) and not inclusive)))


@method("conversations.history")
def history(ws: Workspace, args: Args) -> JSON:
    channel = ws.channel(args.str("channel"))
    if ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    for key, code in (("oldest", "invalid_ts_oldest"), ("latest", "invalid_ts_latest")):
        raw = args.str(key)
        if raw:
            try:
                float(raw)
            except ValueError:
                raise SlackError(code) from None
    top = [
        m
        for m in reversed(channel.messages.values())
        if (not m.thread_ts or m.thread_ts == m.ts or m.reply_broadcast) and _in_window(m.ts, args)
    ]
    page, meta = _paginate(top, args, 100, 999)
    return {
        "messages": [ws.message_json(m) for m in page],
        "has_more": bool(meta["next_cursor"]),
        "pin_count": len(channel.pins),
        "response_metadata": meta,
    }


@method("conversations.replies")
def replies(ws: Workspace, args: Args) -> JSON:
    channel = ws.channel(args.str("channel"))
    parent = channel.messages.get(args.str("ts") or "")
    if parent is None:
        raise SlackError("thread_not_found")
    thread = [parent] + [channel.messages[ts] for ts in parent.replies if ts in channel.messages]
    thread = [m for m in thread if m is parent or _in_window(m.ts, args)]
    page, meta = _paginate(thread, args, 1000, 1000)
    return {
        "messages": [ws.message_json(m) for m in page],
        "has_more": bool(meta["next_cursor"]),
        "response_metadata": meta,
    }


@method("conversations.open")
def open_conversation(ws: Workspace, args: Args) -> JSON:
    channel_id = args.str("channel")
    if channel_id:
        channel = ws.channel(channel_id)
    else:
        users = [u for u in args.list("users") if u != ws.bot_user_id]
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 8:
            raise SlackError("too_many_users")
        for user_id in users:
            ws.user(user_id)
        if len(users) == 1:
            channel = ws.dm_channel(users[0])
        else:
            members = [ws.bot_user_id, *users]
            channel = next(
                (
                    c
                    for c in ws.channels.values()
                    if c.is_mpim and sorted(c.members) == sorted(members)
                ),
                None,
            ) or ws.create_channel(
                "mpdm-" + "--".join(ws.users[u].name for u in users) + "-1",
                is_private=True,
                creator=ws.bot_user_id,
                members=members,
            )
            channel.is_mpim = True
    if args.bool("return_im") or channel.is_mpim:
        return {"channel": ws.channel_json(channel)}
    return {"channel": {"id": channel.id}}


@method("conversations.list")
def list_conversations(ws: Workspace, args: Args) -> JSON:
    types = set(args.list("types") or ["public_channel"])
    if not types <= {"public_channel", "private_channel", "mpim", "im"}:
        raise SlackError("invalid_types")
    found: list[JSON] = []
    for channel in ws.channels.values():
        kind = (
            "im"
            if channel.is_im
            else "mpim"
            if channel.is_mpim
            else "private_channel"
            if channel.is_private
            else "public_channel"
        )
        if kind not in types or (args.bool("exclude_archived") and channel.is_archived):
            continue
        if channel.is_private and ws.bot_user_id not in channel.members:
            continue
        found.append(ws.channel_json(channel, include_num_members=True))
    page, meta = _paginate(found, args, 100, 1000)
    return {"channels": page, "response_metadata": meta}
