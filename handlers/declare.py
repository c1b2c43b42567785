"""Declaring an incident (PRODUCT.md §2): ``/incident open [title]``, the global shortcut, the
message shortcut, the live priority of the declare modal, the duplicate guard's Join and the
submission.

Every listener acks first and hands the rest to ``background`` (the app runs with
``process_before_response``): modals open on the trigger id right after the ack (3 s window), the
declaration itself is stored after the submission's ack, keyed by the view id so that a double
submit or a redelivery declares once."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.declare import (
    DeclareFormInvalid,
    DeclarePrefill,
    declare_modal,
    parse_declare,
    prefill_from_view,
    priority_label,
)
from bot.blocks.help import Message
from bot.blocks.ids import ActionId, CallbackId
from bot.blocks.state import row_id
from bot.blocks.text import escape
from bot.domain.declaration import Declaration, SourceMessage
from bot.domain.errors import UserFacingError
from bot.domain.incident import Actor, Incident, ResponseType
from bot.service import IncidentService
from handlers.background import Background
from handlers.command import CommandCall, CommandRouter
from handlers.oncall import declare_oncall, fill_declare_oncall
from handlers.reply import tell_user

log = logging.getLogger("firefighter.declare")

CHANNEL_WAIT_SECONDS = 5.0
"""How long the confirmation waits for the new incident's channel (created by the outbox worker)."""
CHANNEL_POLL_SECONDS = 0.2
_STALE_VIEW_ERRORS = frozenset({"hash_conflict", "not_found", "view_not_found"})


def register(
    app: AsyncApp, service: IncidentService, router: CommandRouter, background: Background
) -> None:
    catalog = service.catalog

    async def open_declare_modal(
        client: AsyncWebClient, trigger_id: str, user_id: str, prefill: DeclarePrefill
    ) -> dict[str, Any]:
        recent = await service.recent_duplicates(user_id)
        response = await client.views_open(
            trigger_id=trigger_id,
            view=declare_modal(
                catalog, prefill, recent=recent, oncall=declare_oncall(service, prefill)
            ),
        )
        view: dict[str, Any] = response["view"]
        return view

    async def show_modal(
        client: AsyncWebClient, trigger_id: str, user_id: str, prefill: DeclarePrefill
    ) -> None:
        await open_declare_modal(client, trigger_id, user_id, prefill)

    # -- opening the modal ----------------------------------------------------------------------

    async def handle_open_command(call: CommandCall) -> None:
        await call.ack()
        prefill = DeclarePrefill(
            title=call.argument.strip(), origin_channel_id=call.channel_id or None
        )
        call.later(show_modal(call.client, call.trigger_id, call.user_id, prefill))

    async def handle_declare_shortcut(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        prefill = DeclarePrefill()
        work = show_modal(client, body["trigger_id"], body["user"]["id"], prefill)
        background.after_ack(work, body=body, client=client)

    async def handle_declare_from_message(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        message = body.get("message") or {}
        source = SourceMessage(
            channel_id=body["channel"]["id"],
            ts=str(body.get("message_ts") or message.get("ts")),
            text=str(message.get("text") or ""),
            author_id=message.get("user"),
            thread_ts=message.get("thread_ts"),
        )
        background.after_ack(
            open_from_message(client, body["trigger_id"], body["user"]["id"], source),
            body=body,
            client=client,
            respond=respond,
        )

    async def open_from_message(
        client: AsyncWebClient, trigger_id: str, user_id: str, source: SourceMessage
    ) -> None:
        prefill = DeclarePrefill.from_message(source)
        view = await open_declare_modal(client, trigger_id, user_id, prefill)
        # The link to the message is a nicety: fetched once the modal is open (the trigger id
        # expires in 3 s), then shown unless the user already changed the modal.
        permalink = await _permalink(client, source)
        if permalink is None:
            return
        linked = dataclasses.replace(
            prefill, source=dataclasses.replace(source, permalink=permalink)
        )
        recent = await service.recent_duplicates(user_id)
        oncall = declare_oncall(service, linked)
        await _update_view(
            client, view, declare_modal(catalog, linked, recent=recent, oncall=oncall)
        )

    # -- inside the modal -----------------------------------------------------------------------

    async def handle_impact_chosen(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        if not isinstance(body.get("view"), dict):
            return  # impact and category selects live in the declare modal: not one of ours
        background.after_ack(rerender(client, body), body=body, client=client)

    async def rerender(client: AsyncWebClient, body: dict[str, Any]) -> None:
        view = body["view"]
        recent = await service.recent_duplicates(body["user"]["id"])
        prefill = prefill_from_view(view)
        # On-call (PagerDuty) is slow: the modal shows "asking PagerDuty…" first, then who.
        oncall = declare_oncall(service, prefill)
        updated = await _update_view(
            client, view, declare_modal(catalog, prefill, recent=recent, oncall=oncall)
        )
        if oncall and updated is not None:
            await fill_declare_oncall(service, client, updated, prefill, recent)

    async def handle_join_existing(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        incident_id = row_id(action.get("value"))
        if incident_id is None:
            raise UserFacingError("This button is out of date: declare again to see it anew.")
        background.after_ack(join(client, body, incident_id), body=body, client=client)

    async def join(client: AsyncWebClient, body: dict[str, Any], incident_id: int) -> None:
        incident = await service.join(incident_id, by=Actor.user(body["user"]["id"]))
        text = _joined_text(incident)
        view = body.get("view")
        if view:
            await _update_view(client, view, _joined_view(text))
        await tell_user(client, body, {"text": text})

    # -- submitting -----------------------------------------------------------------------------

    async def handle_declare_submission(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        try:
            declaration = parse_declare(view, catalog)
        except DeclareFormInvalid as invalid:
            await ack(response_action="errors", errors=invalid.errors)
            return
        await ack()
        background.after_ack(declare(client, body, view, declaration), body=body, client=client)

    async def declare(
        client: AsyncWebClient, body: dict[str, Any], view: dict[str, Any], declaration: Declaration
    ) -> None:
        source = declaration.source
        if source is not None and source.permalink is None:
            permalink = await _permalink(client, source)
            if permalink is not None:
                declaration = dataclasses.replace(
                    declaration, source=dataclasses.replace(source, permalink=permalink)
                )
        declared = await service.declare(
            declaration, by=Actor.user(body["user"]["id"]), intent_key=str(view["id"])
        )
        if not declared.created:
            return  # a double submit or a redelivery: the first one was told already
        incident = await with_channel(declared.incident)
        origin = prefill_from_view(view).origin_channel_id
        where = {**body, "channel": {"id": origin}} if origin else body
        await tell_user(client, where, declared_message(incident))

    async def with_channel(incident: Incident) -> Incident:
        """The incident once its channel exists (critical ones), waiting a few seconds at most."""
        if incident.response_type is not ResponseType.CRITICAL:
            return incident
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CHANNEL_WAIT_SECONDS
        while incident.channel_id is None and loop.time() < deadline:
            await asyncio.sleep(CHANNEL_POLL_SECONDS)
            incident = await service.require(incident.id)
        return incident

    def declared_message(incident: Incident) -> Message:
        label = priority_label(catalog, incident.priority)
        text = f"Declared *{incident.reference}* ({escape(label)}): {escape(incident.title)}"
        if incident.response_type is not ResponseType.CRITICAL:
            text += (
                " — tracked without a channel: follow it from the App Home "
                f"or with `{router.command} list`."
            )
        elif incident.channel_id:
            text += f" → <#{incident.channel_id}>"
        else:
            text += ". Its channel is being created: you will be invited to it."
        return {"text": text}

    app.shortcut(CallbackId.DECLARE_SHORTCUT.value)(handle_declare_shortcut)
    app.action(ActionId.HOME_DECLARE.value)(handle_declare_shortcut)  # the App Home's button
    app.shortcut(CallbackId.DECLARE_FROM_MESSAGE.value)(handle_declare_from_message)
    app.action(ActionId.DECLARE_IMPACT.value)(handle_impact_chosen)
    app.action(ActionId.DECLARE_CATEGORY.value)(handle_impact_chosen)  # on-call follows it
    app.action(ActionId.DECLARE_JOIN_EXISTING.value)(handle_join_existing)
    app.view(CallbackId.DECLARE_MODAL.value)(handle_declare_submission)
    router.add(
        "open",
        "open [title]",
        "Declare an incident (impacts → priority, then the details)",
        handle_open_command,
    )


async def _permalink(client: AsyncWebClient, source: SourceMessage) -> str | None:
    try:
        response = await client.chat_getPermalink(channel=source.channel_id, message_ts=source.ts)
    except SlackApiError as exc:
        log.info(
            "no permalink for the source message",
            extra={"channel_id": source.channel_id, "slack_error": exc.response.get("error")},
        )
        return None
    permalink = response.get("permalink")
    return permalink if isinstance(permalink, str) else None


async def _update_view(
    client: AsyncWebClient, current: dict[str, Any], new_view: dict[str, Any]
) -> dict[str, Any] | None:
    """Replace an open modal, unless it changed meanwhile (hash) or was closed; returns the
    modal as updated (None when it was not)."""
    try:
        response = await client.views_update(
            view_id=current["id"], hash=current.get("hash"), view=new_view
        )
    except SlackApiError as exc:
        if exc.response.get("error") not in _STALE_VIEW_ERRORS:
            raise
        log.info("declare modal not updated", extra={"slack_error": exc.response.get("error")})
        return None
    updated = response.get("view")
    return updated if isinstance(updated, dict) else None


def _joined_text(incident: Incident) -> str:
    text = f"You joined *{incident.reference}* ({escape(incident.title)})"
    if incident.channel_id:
        text += f" → <#{incident.channel_id}>"
    return text + ". Nothing new was declared."


def _joined_view(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Declare an incident"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }
