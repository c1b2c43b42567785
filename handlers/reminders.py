"""The reminders' own buttons (PRODUCT.md §3): "Snooze" and "Mute". Their "Post update", "Change
status…" and "Assign roles…" buttons open the incident modals (``handlers.manage``).

Each button acks at once; the service call runs after the ack, and a refusal (the incident was
closed meanwhile, no right to act on it) is told to the person who clicked."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.ids import ActionId
from bot.blocks.text import local_time
from bot.domain.errors import UserFacingError
from bot.domain.incident import Actor
from bot.domain.reminders import ReminderKind
from bot.service import IncidentService
from handlers.background import Background
from handlers.command import CommandRouter
from handlers.reply import actor_of, tell_user

_Perform = Callable[[int, ReminderKind, str, dict[str, Any], Any], Coroutine[Any, Any, None]]


def _message(text: str) -> dict[str, Any]:
    return {
        "text": text,
        "blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}],
    }


def _target(action: dict[str, Any]) -> tuple[int, ReminderKind]:
    incident_id, _, kind = str(action.get("value") or "").partition(":")
    try:
        return int(incident_id), ReminderKind(kind)
    except ValueError:
        raise UserFacingError("This reminder is out of date.") from None


def register(
    app: AsyncApp, service: IncidentService, router: CommandRouter, background: Background
) -> None:
    async def snooze(
        incident_id: int, kind: ReminderKind, user_id: str, body: dict[str, Any], client: Any
    ) -> None:
        until = await service.snooze_reminder(incident_id, by=Actor.user(user_id), kind=kind)
        incident = await service.require(incident_id)
        text = (
            f":zzz: Reminders of {incident.reference} snoozed until "
            f"{local_time(until, service.timezone)}."
        )
        await tell_user(client, body, _message(text))

    async def mute(
        incident_id: int, kind: ReminderKind, user_id: str, body: dict[str, Any], client: Any
    ) -> None:
        await service.mute_reminders(incident_id, by=Actor.user(user_id), kind=kind)
        incident = await service.require(incident_id)
        text = f":no_bell: No more update reminders for {incident.reference}."
        await tell_user(client, body, _message(text))

    def button(perform: _Perform) -> Callable[..., Coroutine[Any, Any, None]]:
        """One reminder button: ack, then ``perform`` the click after the ack."""

        async def handle_reminder_button(
            ack: AsyncAck,
            body: dict[str, Any],
            action: dict[str, Any],
            client: AsyncWebClient,
            respond: AsyncRespond,
        ) -> None:
            await ack()
            incident_id, kind = _target(action)
            work = perform(incident_id, kind, str(actor_of(body)), body, client)
            background.after_ack(work, body=body, client=client, respond=respond)

        return handle_reminder_button

    app.action(ActionId.REMINDER_SNOOZE.value)(button(snooze))
    app.action(ActionId.REMINDER_MUTE.value)(button(mute))
