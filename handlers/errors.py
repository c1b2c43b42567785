"""The app's one error handler: user-facing errors become an ephemeral reply with their text; any
other exception is logged with its context and the user gets an apology with a reference, so no
request is ever dropped silently."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.help import Message, error_message
from bot.domain.errors import UserFacingError
from handlers.reply import actor_of, channel_of, tell_user

log = logging.getLogger("firefighter.errors")


def message_for(error: Exception, body: dict[str, Any]) -> Message:
    """What the user reads: a user-facing error's own text, or an apology with a reference
    (the full error is logged under that reference)."""
    if isinstance(error, UserFacingError):
        return error_message(error.message)
    reference = uuid.uuid4().hex[:8]
    log.error(
        "listener failed",
        exc_info=error,
        extra={
            "reference": reference,
            "payload_type": body.get("type") or ("slash_command" if "command" in body else None),
            "user_id": actor_of(body),
            "channel_id": channel_of(body),
        },
    )
    return error_message(
        f"Sorry, something went wrong on our side while handling that. "
        f"Please try again; if it keeps failing, give this reference to your admin: `{reference}`."
    )


async def report_error(
    error: Exception,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond | None,
) -> None:
    """Tell the actor of ``body`` what went wrong (after the ack)."""
    await tell_user(client, body, message_for(error, body), respond=respond)


def register(app: AsyncApp) -> None:
    async def handle_error(
        error: Exception,
        body: dict[str, Any],
        response: BoltResponse | None,
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> BoltResponse | None:
        message = message_for(error, body)
        if response is not None and "command" in body:
            # Not acknowledged yet: the ack itself carries the ephemeral answer.
            return BoltResponse(status=200, body=json.dumps(message))
        ack_now = BoltResponse(status=200, body="") if response is not None else None
        await tell_user(client, body, message, respond=respond)
        return ack_now

    app.error(handle_error)
