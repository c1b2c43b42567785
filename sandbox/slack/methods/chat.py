"""chat.*: posting, threads, broadcasts, ephemerals, updates, deletes, permalinks.

Rules from `methods/chat.*.json` and SLACK_NOTES §4/§9: `no_text` without text/blocks/attachments;
`channel_not_found` / `not_in_channel` / `is_archived`; posting to a public channel the bot is not in
needs `chat:write.public`; a user id as `channel` posts to the bot's DM with that user; `msg_too_long`
over 4,000 characters for chat.update/postEphemeral; `too_many_attachments` over 100.
"""

from __future__ import annotations

import time
from typing import Any

from sandbox.slack.methods import method
from sandbox.slack.state import JSON, Channel, Ephemeral, SlackError
from sandbox.slack.workspace import Args, Workspace

TEXT_MAX_UPDATE = 4000
TEXT_TRUNCATE = 40000


def _content(
    ws: Workspace, name: str, args: Args
) -> tuple[str, list[Any] | None, list[Any] | None]:
    text = args.str("text") or ""
    blocks = args.json("blocks", error="invalid_blocks_format") if "blocks" in args.raw else None
    attachments = (
        args.json("attachments", error="invalid_arguments") if "attachments" in args.raw else None
    )
    if blocks is not None and not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    if attachments is not None and not isinstance(attachments, list):
        raise SlackError(
            "invalid_attachments" if name != "chat.postMessage" else "invalid_arguments"
        )
    if attachments and len(attachments) > 100:
        raise SlackError("too_many_attachments")
    ws.check_broadcast(name, text, blocks, attachments)
    if blocks is not None:
        ws.check_message_blocks(name, blocks)
    if not text and not blocks and not attachments:
        raise SlackError("no_text")
    return text, blocks, attachments


def _target(ws: Workspace, channel_arg: str | None) -> Channel:
    if channel_arg and channel_arg.startswith(("U", "W")) and channel_arg in ws.users:
        return ws.dm_channel(channel_arg)
    return ws.channel(channel_arg)


@method("chat.postMessage")
def post_message(ws: Workspace, args: Args) -> JSON:
    channel = _target(ws, args.str("channel"))
    if channel.is_archived:
        raise SlackError("is_archived")
    if ws.bot_user_id not in channel.members and (
        channel.is_private or "chat:write.public" not in ws.bot_scopes
    ):
        raise SlackError("not_in_channel")
    text, blocks, attachments = _content(ws, "chat.postMessage", args)
    body: JSON = {}
    if len(text) > TEXT_TRUNCATE:
        text = text[:TEXT_TRUNCATE]
        body["warning"] = "message_truncated"
        body["response_metadata"] = {"warnings": ["message_truncated"]}
    thread_ts = args.str("thread_ts")
    if thread_ts:
        parent = channel.messages.get(thread_ts)
        if parent is None or (parent.thread_ts and parent.thread_ts != parent.ts):
            raise SlackError("cannot_reply_to_message")
    metadata = (
        args.json("metadata", error="invalid_metadata_format") if "metadata" in args.raw else None
    )
    message = ws.post(
        channel,
        ws.bot_user_id,
        text,
        blocks=blocks,
        attachments=attachments,
        thread_ts=thread_ts,
        reply_broadcast=args.bool("reply_broadcast") and bool(thread_ts),
        metadata=metadata,
    )
    body.update({"channel": channel.id, "ts": message.ts, "message": ws.message_json(message)})
    return body


@method("chat.postEphemeral")
def post_ephemeral(ws: Workspace, args: Args) -> JSON:
    channel = _target(ws, args.str("channel"))
    if channel.is_archived:
        raise SlackError("is_archived")
    if channel.is_private and ws.bot_user_id not in channel.members:
        raise SlackError("not_in_channel")
    user_id = args.str("user") or ""
    if user_id not in ws.users or user_id not in channel.members:
        raise SlackError("user_not_in_channel")
    text, blocks, _attachments = _content(ws, "chat.postEphemeral", args)
    if len(text) > TEXT_MAX_UPDATE:
        raise SlackError("msg_too_long")
    ts = ws.ids.ts()
    ws.ephemerals.append(
        Ephemeral(
            ts=ts,
            channel=channel.id,
            user=user_id,
            text=text,
            blocks=blocks,
            thread_ts=args.str("thread_ts"),
        )
    )
    return {"message_ts": ts}


@method("chat.update")
def update(ws: Workspace, args: Args) -> JSON:
    channel = _target(ws, args.str("channel"))
    message = ws.message(channel, args.str("ts"))
    if message.user != ws.bot_user_id or message.subtype:
        raise SlackError("cant_update_message")
    text = args.str("text")
    if text is not None and len(text) > TEXT_MAX_UPDATE:
        raise SlackError("msg_too_long")
    ws.check_broadcast("chat.update", text, args.raw.get("blocks"), args.raw.get("attachments"))
    if "blocks" in args.raw:
        blocks = args.json("blocks", error="invalid_blocks_format")
        if blocks is not None and not isinstance(blocks, list):
            raise SlackError("invalid_blocks_format")
        ws.check_message_blocks("chat.update", blocks)
        message.blocks = blocks or None
    if "attachments" in args.raw:
        message.attachments = args.json("attachments", error="invalid_attachments") or None
    if text is not None:
        message.text = text
    if not message.text and not message.blocks and not message.attachments:
        raise SlackError("no_text")
    message.edited = {"user": ws.bot_user_id, "ts": ws.ids.ts()}
    changed = ws.message_json(message)
    ws.emit_in(
        channel,
        f"message.{channel.channel_type}",
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": channel.id,
            "channel_type": channel.channel_type,
            "hidden": True,
            "message": changed,
            "ts": ws.ids.ts(),
            "event_ts": ws.ids.ts(),
        },
    )
    return {"channel": channel.id, "ts": message.ts, "text": message.text, "message": changed}


@method("chat.delete")
def delete(ws: Workspace, args: Args) -> JSON:
    channel = _target(ws, args.str("channel"))
    message = ws.message(channel, args.str("ts"))
    if message.user != ws.bot_user_id:
        raise SlackError("cant_delete_message")
    del channel.messages[message.ts]
    if message.thread_ts and message.thread_ts != message.ts:
        parent = channel.messages.get(message.thread_ts)
        if parent and message.ts in parent.replies:
            parent.replies.remove(message.ts)
    channel.pins.pop(message.ts, None)
    ws.emit_in(
        channel,
        f"message.{channel.channel_type}",
        {
            "type": "message",
            "subtype": "message_deleted",
            "channel": channel.id,
            "channel_type": channel.channel_type,
            "hidden": True,
            "deleted_ts": message.ts,
            "ts": ws.ids.ts(),
            "event_ts": ws.ids.ts(),
            "event_time": int(time.time()),
        },
    )
    return {"channel": channel.id, "ts": message.ts}


@method("chat.getPermalink")
def get_permalink(ws: Workspace, args: Args) -> JSON:
    channel = ws.channel(args.str("channel"))
    message = ws.message(channel, args.str("message_ts"))
    return {"channel": channel.id, "permalink": ws.permalink(channel.id, message.ts)}
