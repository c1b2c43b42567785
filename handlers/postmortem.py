"""The post-mortem from Slack (PRODUCT.md §4 Confluence): ``/incident postmortem`` writes the
incident's post-mortem page in Confluence now (it is otherwise written when an incident that needs
one reaches Mitigated), or, when it exists, shows its link and what makes it ready (bringing its
generated sections up to date). Outside an incident channel a picker asks which incident.

The page is written by the outbox after the ack; its link is posted in the incident's channel."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.blocks.help import error_message
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
from handlers.picker import IncidentAction, Reply, incident_action


def register(
    app: AsyncApp, service: IncidentService, router: CommandRouter, background: Background
) -> None:
    async def write_or_show(
        incident_id: int, _: None, user_id: str, intent_key: str, reply: Reply
    ) -> None:
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

    postmortem_here = incident_action(
        app,
        service,
        background,
        IncidentAction(
            action="postmortem",
            callback_id=PICK_POSTMORTEM_INCIDENT_CALLBACK,
            perform=write_or_show,
            prompt=lambda _: "Whose post-mortem?",
            no_incident=NO_INCIDENT,
            carry=lambda _: {},
            restore=lambda _: None,
            # A private incident's post-mortem is not written in the shared space: not offered.
            offered=lambda incident: not incident.private,
        ),
    )

    async def handle_postmortem_command(call: CommandCall) -> None:
        if not service.confluence:
            await call.ack(error_message(CONFLUENCE_OFF))
            return
        await call.ack()
        call.later(postmortem_here(call, None))

    router.add(
        "postmortem",
        "postmortem",
        "Write the post-mortem page in Confluence, or show it and what makes it ready",
        handle_postmortem_command,
    )
