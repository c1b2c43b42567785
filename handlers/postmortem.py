"""The post-mortem from Slack (PRODUCT.md §4 Confluence): ``/incident postmortem`` writes the
incident's post-mortem page in Confluence now (it is otherwise written when an incident that needs
one reaches Mitigated), or, when it exists, shows its link and what makes it ready (bringing its
generated sections up to date). Outside an incident channel a picker asks which incident.

The page is written by the outbox after the ack; its link is posted in the incident's channel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.help import Message, error_message
from bot.blocks.manage import FormInvalid, incident_picker_modal, parse_picker
from bot.blocks.postmortem import (
    CONFLUENCE_OFF,
    NO_INCIDENT,
    PICK_POSTMORTEM_INCIDENT_CALLBACK,
    postmortem_message,
    postmortem_queued_message,
)
from bot.domain.incident import Actor
from bot.service import IncidentService
from handlers.background import Background
from handlers.command import CommandCall, CommandRouter
from handlers.reply import actor_of, picker_respond, tell_user

Reply = Callable[[Message], Awaitable[None]]
"""Shows a message to the person who asked."""


def register(
    app: AsyncApp, service: IncidentService, router: CommandRouter, background: Background
) -> None:
    async def write_or_show(incident_id: int, user_id: str, intent_key: str, reply: Reply) -> None:
        page = await service.request_postmortem(
            incident_id, by=Actor.user(user_id), intent_key=intent_key
        )
        incident = await service.require(incident_id)
        if page is None:
            await reply(postmortem_queued_message(incident))
            return
        await reply(
            postmortem_message(
                incident,
                title=page.title,
                url=page.url,
                ready=page.ready,
                hint=await service.postmortem_hint(incident),
            )
        )

    def replying(respond: AsyncRespond) -> Reply:
        async def reply(message: Message) -> None:
            await respond(
                text=message["text"], blocks=message.get("blocks"), response_type="ephemeral"
            )

        return reply

    async def postmortem_here(call: CommandCall) -> None:
        reply = replying(call.respond)
        incident = await service.incident_in_channel(call.channel_id)
        if incident is not None:
            await write_or_show(incident.id, call.user_id, call.trigger_id, reply)
            return
        incidents = [
            i
            for i in await service.incidents_to_act_on(call.user_id, include_closed=True)
            if not i.private
        ]
        if not incidents:
            await reply(error_message(NO_INCIDENT))
            return
        view = incident_picker_modal(
            incidents,
            action="postmortem",
            styles=service.priority_styles,
            prompt="Whose post-mortem?",
            extra={"response_url": call.body.get("response_url"), "intent": call.trigger_id},
        )
        await call.client.views_open(
            trigger_id=call.trigger_id,
            view={**view, "callback_id": PICK_POSTMORTEM_INCIDENT_CALLBACK},
        )

    async def handle_postmortem_command(call: CommandCall) -> None:
        if not service.confluence:
            await call.ack(error_message(CONFLUENCE_OFF))
            return
        await call.ack()
        call.later(postmortem_here(call))

    router.add(
        "postmortem",
        "postmortem",
        "Write the post-mortem page in Confluence, or show it and what makes it ready",
        handle_postmortem_command,
    )

    async def handle_postmortem_picker_submission(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        try:
            choice = parse_picker(view)
        except FormInvalid as invalid:
            await ack(response_action="errors", errors=invalid.errors)
            return
        await ack()
        respond = picker_respond(choice.extra)
        intent = str(choice.extra.get("intent") or body["view"]["id"])

        async def reply(message: Message) -> None:
            if respond is None:
                await tell_user(client, body, message)
            else:
                await replying(respond)(message)

        background.after_ack(
            write_or_show(choice.incident_id, str(actor_of(body)), intent, reply),
            body=body,
            client=client,
            respond=respond,
        )

    app.view(PICK_POSTMORTEM_INCIDENT_CALLBACK)(handle_postmortem_picker_submission)
