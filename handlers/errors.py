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
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.help import Message, error_message
from bot.domain.errors import UserFacingError
from handlers.reply import actor_of, channel_of, tell_user

log = logging.getLogger("firefighter.errors")


TRIGGER_ALREADY_USED = "exchanged_trigger_id"
TRIGGER_EXPIRED = "expired_trigger_id"


def _slack_error_code(error: Exception) -> str | None:
    if isinstance(error, SlackApiError):
        return str(error.response.get("error") or "") or None
    return None


def message_for(error: Exception, body: dict[str, Any]) -> Message | None:
    """What the user reads: a user-facing error's own text, or an apology with a reference
    (the full error is logged under that reference). ``None``: nothing to tell (a repeated
    delivery found its modal already open)."""
    if isinstance(error, UserFacingError):
        return error_message(error.message)
    code = _slack_error_code(error)
    if code == TRIGGER_ALREADY_USED:
        # The same shortcut or command delivered twice: the first delivery opened the modal.
        log.info("trigger already used: a repeated delivery", extra={"user_id": actor_of(body)})
        return None
    if code == TRIGGER_EXPIRED:
        return error_message(
            "Slack gave me too little time to open the form (it must open within 3 seconds). "
            "Please try again."
        )
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
    message = message_for(error, body)
    if message is not None:
        await tell_user(client, body, message, respond=respond)


def register(app: AsyncApp) -> None:
    async def handle_error(
        error: Exception,
        body: dict[str, Any],
        response: BoltResponse | None,
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> BoltResponse | None:
        message = message_for(error, body)
        if response is not None and "command" in body and message is not None:
            # Not acknowledged yet: the ack itself carries the ephemeral answer.
            return BoltResponse(status=200, body=json.dumps(message))
        ack_now = BoltResponse(status=200, body="") if response is not None else None
        if message is not None:
            await tell_user(client, body, message, respond=respond)
        return ack_now

    app.error(handle_error)
