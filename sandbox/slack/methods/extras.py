"""bookmarks.*, pins.*, reactions.* (`methods/bookmarks.add.json`, `pins.add.json`, `reactions.add.json`).

Bookmarks: `type` must be `link`, the link must start with http:// or https:// (`invalid_link`), title at
most 256 characters and link at most 2048 (SLACK_NOTES §4; answered `invalid_arguments`, the generic
argument error, as the spec lists no specific code). Pins: `already_pinned` / `no_pin`. Reactions:
`already_reacted` / `no_reaction`, names without colons.
"""

from __future__ import annotations

import re
import time

from sandbox.slack.methods import method
from sandbox.slack.state import JSON, Bookmark, Channel, Pin, SlackError
from sandbox.slack.workspace import Args, Workspace

TITLE_MAX = 256
LINK_MAX = 2048
MAX_BOOKMARKS = 100
MAX_PINS = 100
_EMOJI_NAME = re.compile(r"^[a-z0-9_+\-']+(::skin-tone-[2-6])?$")


def _bookmark_json(ws: Workspace, bookmark: Bookmark) -> JSON:
    return {
        "id": bookmark.id,
        "channel_id": bookmark.channel_id,
        "title": bookmark.title,
        "link": bookmark.link,
        "emoji": bookmark.emoji,
        "icon_url": None,
        "type": "link",
        "entity_id": None,
        "date_created": bookmark.created,
        "date_updated": bookmark.updated,
        "rank": "g",
        "last_updated_by_user_id": ws.bot_user_id,
        "last_updated_by_team_id": ws.team_id,
        "shortcut_id": None,
        "app_id": ws.app_id,
    }


def _check_link(link: str | None, title: str | None) -> None:
    if title is not None and len(title) > TITLE_MAX:
        raise SlackError(
            "invalid_arguments", response_metadata={"messages": ["[ERROR] title too long"]}
        )
    if link is not None and (not link.startswith(("http://", "https://")) or len(link) > LINK_MAX):
        raise SlackError("invalid_link")


def _bookmark_channel(ws: Workspace, args: Args) -> Channel:
    channel = ws.channel(args.str("channel_id"))
    if channel.is_archived or (channel.is_private and ws.bot_user_id not in channel.members):
        raise SlackError("access_denied")
    return channel


@method("bookmarks.add")
def bookmarks_add(ws: Workspace, args: Args) -> JSON:
    channel = _bookmark_channel(ws, args)
    if args.str("type") != "link":
        raise SlackError("invalid_bookmark_type")
    title, link = args.str("title") or "", args.str("link")
    if link is None:
        raise SlackError("invalid_link")
    _check_link(link, title)
    if len(channel.bookmarks) >= MAX_BOOKMARKS:
        raise SlackError("too_many_bookmarks")
    bookmark = Bookmark(
        ws.ids.make("Bk"), channel.id, title, link, args.str("emoji"), int(time.time())
    )
    channel.bookmarks[bookmark.id] = bookmark
    return {"bookmark": _bookmark_json(ws, bookmark)}


@method("bookmarks.edit")
def bookmarks_edit(ws: Workspace, args: Args) -> JSON:
    channel = _bookmark_channel(ws, args)
    bookmark = channel.bookmarks.get(args.str("bookmark_id") or "")
    if bookmark is None:
        raise SlackError("not_found")
    _check_link(args.str("link"), args.str("title"))
    bookmark.title = args.str("title") or bookmark.title
    bookmark.link = args.str("link") or bookmark.link
    bookmark.emoji = args.str("emoji") or bookmark.emoji
    bookmark.updated = int(time.time())
    return {"bookmark": _bookmark_json(ws, bookmark)}


@method("bookmarks.list")
def bookmarks_list(ws: Workspace, args: Args) -> JSON:
    channel = _bookmark_channel(ws, args)
    return {"bookmarks": [_bookmark_json(ws, b) for b in channel.bookmarks.values()]}


@method("bookmarks.remove")
def bookmarks_remove(ws: Workspace, args: Args) -> JSON:
    channel = _bookmark_channel(ws, args)
    if channel.bookmarks.pop(args.str("bookmark_id") or "", None) is None:
        raise SlackError("not_found")
    return {}


@method("pins.add")
def pins_add(ws: Workspace, args: Args) -> JSON:
    channel = ws.channel(args.str("channel"))
    ts = args.str("timestamp")
    if not ts:
        raise SlackError("no_item_specified")
    if ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    message = ws.message(channel, ts)
    if ts in channel.pins:
        raise SlackError("already_pinned")
    if len(channel.pins) >= MAX_PINS:
        raise SlackError("too_many_pins")
    channel.pins[ts] = Pin(ts, int(time.time()), ws.bot_user_id)
    ws.emit_in(
        channel,
        "pin_added",
        {
            "type": "pin_added",
            "user": ws.bot_user_id,
            "channel_id": channel.id,
            "item": {"type": "message", "channel": channel.id, "message": ws.message_json(message)},
            "event_ts": ws.ids.ts(),
        },
    )
    return {}


@method("pins.remove")
def pins_remove(ws: Workspace, args: Args) -> JSON:
    channel = ws.channel(args.str("channel"))
    ts = args.str("timestamp")
    if not ts:
        raise SlackError("no_item_specified")
    ws.message(channel, ts)
    if channel.pins.pop(ts, None) is None:
        raise SlackError("no_pin")
    return {}


@method("pins.list")
def pins_list(ws: Workspace, args: Args) -> JSON:
    channel = ws.channel(args.str("channel"))
    items = []
    for pin in channel.pins.values():
        message = ws.message_json(channel.messages[pin.ts])
        message["permalink"] = ws.permalink(channel.id, pin.ts)
        message["pinned_to"] = [channel.id]
        items.append(
            {
                "type": "message",
                "channel": channel.id,
                "created": pin.created,
                "created_by": pin.created_by,
                "message": message,
            }
        )
    return {"items": items}


def _reaction_name(args: Args) -> str:
    name = (args.str("name") or "").strip()
    if not name or ":" in name.replace("::skin-tone", "") or not _EMOJI_NAME.match(name):
        raise SlackError("invalid_name")
    return name


@method("reactions.add")
def reactions_add(ws: Workspace, args: Args) -> JSON:
    channel = ws.channel(args.str("channel"))
    name = _reaction_name(args)
    if channel.is_archived:
        raise SlackError("is_archived")
    message = ws.message(channel, args.str("timestamp"))
    users = message.reactions.setdefault(name, [])
    if ws.bot_user_id in users:
        raise SlackError("already_reacted")
    users.append(ws.bot_user_id)
    ws.emit_in(
        channel,
        "reaction_added",
        reaction_event(
            ws,
            "reaction_added",
            user_id=ws.bot_user_id,
            channel=channel,
            ts=message.ts,
            item_user=message.user,
            name=name,
        ),
    )
    return {}


@method("reactions.remove")
def reactions_remove(ws: Workspace, args: Args) -> JSON:
    name = _reaction_name(args)
    if not args.str("channel") or not args.str("timestamp"):
        raise SlackError("no_item_specified")
    channel = ws.channel(args.str("channel"))
    message = ws.message(channel, args.str("timestamp"))
    users = message.reactions.get(name, [])
    if ws.bot_user_id not in users:
        raise SlackError("no_reaction")
    users.remove(ws.bot_user_id)
    if not users:
        del message.reactions[name]
    return {}


@method("reactions.get")
def reactions_get(ws: Workspace, args: Args) -> JSON:
    if not args.str("channel") or not args.str("timestamp"):
        raise SlackError("no_item_specified")
    channel = ws.channel(args.str("channel"))
    message = ws.message(channel, args.str("timestamp"))
    body = ws.message_json(message)
    body["permalink"] = ws.permalink(channel.id, message.ts)
    return {"type": "message", "channel": channel.id, "message": body}


def reaction_event(
    ws: Workspace,
    kind: str,
    *,
    user_id: str,
    channel: Channel,
    ts: str,
    item_user: str | None,
    name: str,
) -> JSON:
    """`reaction_added` / `reaction_removed` event bodies (events.json)."""
    return {
        "type": kind,
        "user": user_id,
        "reaction": name,
        "item_user": item_user,
        "item": {"type": "message", "channel": channel.id, "ts": ts},
        "event_ts": ws.ids.ts(),
    }
