"""Follow-up actions from Slack (PRODUCT.md §4 Jira): ``/incident followup <text>`` adds one (a
Jira issue linked to the incident's ticket, created by the outbox after commit),
``/incident followup`` lists them; outside an incident channel a picker asks which incident. The
modal of a timeline entry's "Make it a follow-up…" (opened by handlers/timeline_edit.py) is
submitted here.

The command's text is checked before the ack (a bad one is answered at once with what to do); the
modal's submission is carried out before its ack, so that any refusal shows on its input."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.followup import (
    JIRA_OFF,
    FollowUpInvalid,
    View,
    followup_added_message,
    followup_modal,
    followups_message,
    parse_followup_modal,
    parse_followup_text,
)
from bot.blocks.help import error_message
from bot.blocks.ids import BlockId, CallbackId
from bot.blocks.manage import FormInvalid
from bot.domain.errors import UserFacingError
from bot.domain.incident import Actor, Incident, JsonValue
from bot.service import FOLLOWUP_MAX_LENGTH, IncidentService
from handlers.background import Background
from handlers.command import CommandCall, CommandRouter
from handlers.picker import IncidentAction, Reply, incident_action
from handlers.reply import actor_of, tell_user

ADD_FOLLOWUPS = "add follow-ups to"
"""What an access refusal says the person may not do (the service's words for it)."""
NO_INCIDENT = "There is no incident you can add a follow-up to."


def followup_view(
    service: IncidentService,
    incident: Incident,
    text: str,
    *,
    channel_id: str | None = None,
) -> View:
    """The follow-up modal of ``incident`` prefilled with ``text``; the confirmation goes to
    ``channel_id`` (where the person clicked), else by DM."""
    return followup_modal(
        incident,
        text,
        max_length=FOLLOWUP_MAX_LENGTH,
        due_days=service.catalog.jira.followup_due_days,
        channel_id=channel_id,
    )


def register(
    app: AsyncApp, service: IncidentService, router: CommandRouter, background: Background
) -> None:
    command = service.catalog.slack.command

    async def add_or_list(
        incident_id: int, text: str | None, user_id: str, intent_key: str, reply: Reply
    ) -> None:
        """Add ``text`` as a follow-up of the incident, or (``None``) list its follow-ups."""
        if text is None:
            incident, followups = await service.followups_for(incident_id, user_id=user_id)
            await reply(
                followups_message(
                    incident,
                    followups,
                    tz=service.timezone,
                    now=service.clock.now(),
                    command=command,
                )
            )
            return
        incident = await service.require(incident_id)
        followup = await service.add_followup(
            incident_id, text, by=Actor.user(user_id), intent_key=intent_key
        )
        await reply(followup_added_message(incident, followup))

    # --- /incident followup [text] ---------------------------------------------------------------

    def carry(text: str | None) -> dict[str, JsonValue]:
        return {} if text is None else {"text": text}

    def restore(extra: Mapping[str, Any]) -> str | None:
        text = extra.get("text")
        return text if isinstance(text, str) else None

    followup_here = incident_action(
        app,
        service,
        background,
        IncidentAction(
            action="followup",
            callback_id=CallbackId.PICK_FOLLOWUP_INCIDENT_MODAL,
            perform=add_or_list,
            prompt=lambda text: (
                "Add the follow-up to which incident?" if text else "Whose follow-ups?"
            ),
            no_incident=NO_INCIDENT,
            carry=carry,
            restore=restore,
        ),
    )

    async def handle_followup_command(call: CommandCall) -> None:
        if not service.jira:
            await call.ack(error_message(JIRA_OFF))
            return
        text: str | None = None
        if call.argument.strip():
            try:
                text = parse_followup_text(
                    call.argument, max_length=FOLLOWUP_MAX_LENGTH, command=command
                )
            except FollowUpInvalid as invalid:
                await call.ack(error_message(invalid.message))
                return
        await call.ack()
        call.later(followup_here(call, text))

    router.add(
        "followup",
        "followup [<text>]",
        "Add a follow-up action (a Jira issue linked to the incident's ticket), or list them",
        handle_followup_command,
    )

    # --- the modal of a timeline entry's "Make it a follow-up…" ----------------------------------

    async def handle_followup_submission(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        try:
            draft = parse_followup_modal(view, max_length=FOLLOWUP_MAX_LENGTH, command=command)
        except FormInvalid as invalid:
            await ack(response_action="errors", errors=invalid.errors)
            return
        user_id = str(actor_of(body))
        try:
            followup = await service.add_followup(
                draft.incident_id,
                draft.text,
                by=Actor.user(user_id),
                intent_key=f"view:{view['id']}",
            )
        except UserFacingError as refused:
            await ack(response_action="errors", errors={BlockId.FOLLOWUP_TEXT: refused.message})
            return
        await ack()
        # The answer goes where the person clicked (ephemeral), else by DM.
        reply_to: dict[str, Any] = {"user": {"id": user_id}}
        if draft.channel_id:
            reply_to["channel"] = {"id": draft.channel_id}

        async def confirm() -> None:
            incident = await service.require(draft.incident_id)
            await tell_user(client, reply_to, followup_added_message(incident, followup))

        background.after_ack(confirm(), body=reply_to, client=client)

    app.view(CallbackId.FOLLOWUP_MODAL.value)(handle_followup_submission)
