"""Telling the person who acted something, wherever Slack lets us reach them.

Order of preference: the interaction's ``response_url`` (works even in channels the bot is not in),
an ephemeral message in the channel, then a DM. Each fallback is taken only on the Slack errors that
mean the previous route cannot work (SLACK_NOTES §9)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.request.internals import extract_channel_id, extract_user_id
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.help import Message

log = logging.getLogger("firefighter.reply")

_EPHEMERAL_UNREACHABLE = {
    "user_not_in_channel",
    "channel_not_found",
    "not_in_channel",
    "is_archived",
}


def actor_of(body: dict[str, Any]) -> str | None:
    """The Slack user id behind a command, interaction or event body (Bolt's own extraction)."""
    return extract_user_id(body)


def picker_respond(extra: Mapping[str, Any]) -> AsyncRespond | None:
    """Where the incident picker answers: the response_url of the command that opened it."""
    url = extra.get("response_url")
    return AsyncRespond(response_url=url) if isinstance(url, str) and url else None


def channel_of(body: dict[str, Any]) -> str | None:
    """The conversation a command, interaction or event happened in, if any."""
    return extract_channel_id(body)


async def tell_user(
    client: AsyncWebClient,
    body: dict[str, Any],
    message: Message,
    *,
    respond: AsyncRespond | None = None,
) -> bool:
    """Show ``message`` to the actor of ``body`` only; returns whether some route worked."""
    user_id = actor_of(body)
    if respond is not None and body.get("response_url"):
        try:
            await respond(
                text=message["text"], blocks=message.get("blocks"), response_type="ephemeral"
            )
            return True
        except Exception:
            log.warning("response_url refused the message; trying an ephemeral message")
    if user_id is None:
        log.error(
            "cannot tell the user: no user in the payload", extra={"payload_type": body.get("type")}
        )
        return False
    channel_id = channel_of(body)
    if channel_id and not channel_id.startswith("D"):
        try:
            await client.chat_postEphemeral(
                channel=channel_id, user=user_id, text=message["text"], blocks=message.get("blocks")
            )
            return True
        except SlackApiError as exc:
            if exc.response.get("error") not in _EPHEMERAL_UNREACHABLE:
                raise
    try:
        await client.chat_postMessage(
            channel=user_id, text=message["text"], blocks=message.get("blocks")
        )
        return True
    except SlackApiError as exc:
        log.error(
            "cannot tell the user: the direct message was refused",
            extra={"user_id": user_id, "slack_error": exc.response.get("error")},
        )
        return False
