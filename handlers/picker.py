"""Subcommands about one incident: the incident of the channel the command was typed in, else the
one the person picks in the incident picker.

``followup``, ``cost``, ``postmortem`` and ``page`` all work that way: in an incident channel the
work runs at once (after the ack) and its answer goes back ephemerally through the command's
``response_url``; elsewhere the picker opens, carrying the command's argument, its
``response_url`` and its trigger id (the intent: Slack redelivering the command acts once) in its
private metadata, and its submission runs the same work with the incident picked. Each subcommand
says what it does in an ``IncidentAction``; ``incident_action`` registers its picker's submission
and returns what the command runs after its ack, so the flow is written once.

The manage subcommands (``update``, ``close``…) open their own modal after the pick instead, and
only share ``picked`` (the picker's parsing, refused on its input)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.help import Message, error_message
from bot.blocks.manage import FormInvalid, PickerChoice, incident_picker_modal, parse_picker
from bot.domain.incident import Incident, JsonValue
from bot.service import IncidentService
from handlers.background import Background
from handlers.command import CommandCall
from handlers.reply import actor_of, picker_respond, tell_user

A = TypeVar("A")
"""The subcommand's argument (its text, a cost, services to page…), already parsed."""

Reply = Callable[[Message], Awaitable[None]]
"""Shows a message to the person who asked."""

Perform = Callable[[int, A, str, str, Reply], Awaitable[None]]
"""The work on one incident: ``(incident id, argument, user id, intent key, reply)``."""

HereOrPick = Callable[[CommandCall, A], Coroutine[Any, Any, None]]
"""What the command runs after its ack: act on the channel's incident, else open the picker."""


def replying(respond: AsyncRespond) -> Reply:
    """Answer ephemerally through ``respond`` (the command's or the picker's ``response_url``)."""

    async def reply(message: Message) -> None:
        await respond(text=message["text"], blocks=message.get("blocks"), response_type="ephemeral")

    return reply


async def picked(view: dict[str, Any], ack: AsyncAck) -> PickerChoice | None:
    """The picker's choice, or ``None`` once the ack has shown what is missing on its input."""
    try:
        return parse_picker(view)
    except FormInvalid as invalid:
        await ack(response_action="errors", errors=invalid.errors)
        return None


def _always(_: Incident) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class IncidentAction(Generic[A]):
    """What a subcommand does to one incident, and what its picker offers and carries."""

    action: str
    """The picker's action (kept in its private metadata)."""
    callback_id: str
    """The picker's own callback: its submission carries this subcommand on."""
    perform: Perform[A]
    prompt: Callable[[A], str]
    """The picker's question (mrkdwn), which may depend on the argument."""
    no_incident: str
    """What the person is told when the picker would offer nothing."""
    carry: Callable[[A], dict[str, JsonValue]]
    """What the picker keeps of the argument (small JSON: private metadata holds 3,000 chars)."""
    restore: Callable[[Mapping[str, Any]], A]
    """The argument back from what ``carry`` kept."""
    include_closed: bool = True
    """Whether the picker also offers recently closed incidents."""
    offered: Callable[[Incident], bool] = _always
    """Which of the incidents the person may act on the picker offers."""


def incident_action(
    app: AsyncApp,
    service: IncidentService,
    background: Background,
    spec: IncidentAction[A],
) -> HereOrPick[A]:
    """Register the submission of ``spec``'s picker; return what its command runs after the ack."""

    async def here_or_pick(call: CommandCall, argument: A) -> None:
        reply = replying(call.respond)
        incident = await service.incident_in_channel(call.channel_id)
        if incident is not None:
            # The trigger id is the intent: Slack redelivering this very command acts once.
            await spec.perform(incident.id, argument, call.user_id, call.trigger_id, reply)
            return
        incidents = [
            i
            for i in await service.incidents_to_act_on(
                call.user_id, include_closed=spec.include_closed
            )
            if spec.offered(i)
        ]
        if not incidents:
            await reply(error_message(spec.no_incident))
            return
        view = incident_picker_modal(
            incidents,
            action=spec.action,
            styles=service.priority_styles,
            prompt=spec.prompt(argument),
            extra={
                **spec.carry(argument),
                "response_url": call.body.get("response_url"),
                "intent": call.trigger_id,
            },
            callback_id=spec.callback_id,
        )
        await call.client.views_open(trigger_id=call.trigger_id, view=view)

    async def handle_incident_picker_submission(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        choice = await picked(view, ack)
        if choice is None:
            return
        await ack()
        respond = picker_respond(choice.extra)
        argument = spec.restore(choice.extra)
        # Without an intent in its metadata, the picker's view stands for it (one submission).
        intent = str(choice.extra.get("intent") or body["view"]["id"])

        async def reply(message: Message) -> None:
            if respond is None:
                await tell_user(client, body, message)
            else:
                await replying(respond)(message)

        background.after_ack(
            spec.perform(choice.incident_id, argument, str(actor_of(body)), intent, reply),
            body=body,
            client=client,
            respond=respond,
        )

    app.view(spec.callback_id)(handle_incident_picker_submission)
    return here_or_pick
