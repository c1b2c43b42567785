"""Correcting the timeline and the milestones from Slack (PRODUCT.md §1): the menu of each entry in
``/incident timeline`` (Edit… / Strike out…, and "Make it a follow-up…" whose modal
handlers/followup.py takes), their modals, and the milestones modal
(``/incident milestones``, opened by handlers/manage.py).

A submission is parsed, then checked by the service against the current incident and entry before
the ack, so a refusal shows on the input it is about (``response_action: errors``) or, for an entry
struck out meanwhile or a person not allowed, as a modal that says so. The change itself runs
after the ack; a refusal then (a race) is told to the person by the background runner.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.help import error_message
from bot.blocks.ids import ActionId, CallbackId
from bot.blocks.manage import FormInvalid
from bot.blocks.timeline import (
    EDIT,
    FOLLOWUP,
    edit_refusal_errors,
    milestones_refusal_errors,
    parse_entry_menu,
    parse_milestones,
    parse_timeline_edit,
    parse_timeline_strike,
    timeline_edit_modal,
    timeline_notice_view,
    timeline_strike_modal,
)
from bot.domain.errors import AccessDenied, UserFacingError
from bot.domain.incident import Actor
from bot.domain.milestones import MilestoneBatchRefused
from bot.domain.timeline import EntryField, TimelineEditRefused
from bot.service import EDIT_MILESTONES, EDIT_TIMELINE, IncidentService
from handlers.background import Background
from handlers.command import CommandRouter
from handlers.followup import ADD_FOLLOWUPS, followup_view
from handlers.reply import actor_of, channel_of, tell_user


def register(
    app: AsyncApp, service: IncidentService, router: CommandRouter, background: Background
) -> None:
    # --- the menu of an entry ------------------------------------------------------------------

    async def handle_timeline_entry_menu(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        try:
            kind, entry_id = parse_entry_menu(action)
        except ValueError:
            raise UserFacingError(
                "This menu is out of date: run `/incident timeline` again."
            ) from None
        user_id = str(actor_of(body))

        async def open_it() -> None:
            entry = await service.timeline_entry(entry_id)
            if kind == FOLLOWUP:
                incident = await service.require_may_act(entry.incident_id, user_id, ADD_FOLLOWUPS)
                view = followup_view(service, incident, entry.text, channel_id=channel_of(body))
                await client.views_open(trigger_id=body["trigger_id"], view=view)
                return
            incident = await service.require_may_act(entry.incident_id, user_id, EDIT_TIMELINE)
            if entry.struck_out:
                await tell_user(
                    client,
                    body,
                    error_message("This timeline entry is struck out: it can no longer change."),
                )
                return
            build = timeline_edit_modal if kind == EDIT else timeline_strike_modal
            view = build(incident, entry, service.timezone)
            await client.views_open(trigger_id=body["trigger_id"], view=view)

        background.after_ack(open_it(), body=body, client=client)

    app.action(ActionId.TIMELINE_ENTRY.value)(handle_timeline_entry_menu)

    # --- edit and strike out -------------------------------------------------------------------

    async def refused_before_ack(
        ack: AsyncAck, refusal: TimelineEditRefused | AccessDenied
    ) -> None:
        if isinstance(refusal, TimelineEditRefused):
            errors = edit_refusal_errors(refusal)
            if errors is not None:
                await ack(response_action="errors", errors=errors)
                return
        title = "Entry struck out" if _is_stale(refusal) else "Not allowed"
        await ack(response_action="update", view=timeline_notice_view(title, refusal.message))

    async def handle_timeline_edit_submission(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        try:
            edit = parse_timeline_edit(view)
        except FormInvalid as invalid:
            await ack(response_action="errors", errors=invalid.errors)
            return
        by = Actor.user(str(actor_of(body)))
        details: dict[str, Any] = {
            "text": edit.text,
            "happened_at": edit.happened_at,
            "reason": edit.reason,
            "by": by,
        }
        try:
            await service.check_timeline_edit(edit.entry_id, **details)
        except (TimelineEditRefused, AccessDenied) as refusal:
            await refused_before_ack(ack, refusal)
            return
        await ack()
        background.after_ack(
            _done(service.edit_timeline_entry(edit.entry_id, intent_key=_intent(body), **details)),
            body=body,
            client=client,
        )

    async def handle_timeline_strike_submission(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        try:
            strike = parse_timeline_strike(view)
        except FormInvalid as invalid:
            await ack(response_action="errors", errors=invalid.errors)
            return
        by = Actor.user(str(actor_of(body)))
        try:
            await service.check_timeline_strike(strike.entry_id, reason=strike.reason, by=by)
        except (TimelineEditRefused, AccessDenied) as refusal:
            await refused_before_ack(ack, refusal)
            return
        await ack()
        work = service.strike_timeline_entry(
            strike.entry_id, reason=strike.reason, by=by, intent_key=_intent(body)
        )
        background.after_ack(_done(work), body=body, client=client)

    app.view(CallbackId.TIMELINE_EDIT_MODAL.value)(handle_timeline_edit_submission)
    app.view(CallbackId.TIMELINE_STRIKE_MODAL.value)(handle_timeline_strike_submission)

    # --- every milestone at once ---------------------------------------------------------------

    async def handle_milestones_submission(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        try:
            choice = parse_milestones(view)
        except FormInvalid as invalid:
            await ack(response_action="errors", errors=invalid.errors)
            return
        user_id = str(actor_of(body))
        try:
            incident = await service.require_may_act(choice.incident_id, user_id, EDIT_MILESTONES)
            service.check_milestones(incident, choice.values)
        except MilestoneBatchRefused as refused:
            await ack(response_action="errors", errors=milestones_refusal_errors(refused))
            return
        except AccessDenied as denied:
            await ack(
                response_action="update", view=timeline_notice_view("Not allowed", denied.message)
            )
            return
        await ack()
        work = service.set_milestones(
            choice.incident_id, choice.values, by=Actor.user(user_id), intent_key=_intent(body)
        )
        background.after_ack(_done(work), body=body, client=client)

    app.view(CallbackId.MILESTONES_MODAL.value)(handle_milestones_submission)


async def _done(work: Awaitable[Any]) -> None:
    await work


def _is_stale(refusal: Exception) -> bool:
    return isinstance(refusal, TimelineEditRefused) and refusal.field is EntryField.ENTRY


def _intent(body: dict[str, Any]) -> str:
    """A submission's intent is its view: a second delivery of it changes nothing."""
    return f"view:{body['view']['id']}"
