"""Working on an incident from Slack (PRODUCT.md §1-§2): the ``update``, ``status``, ``roles``,
``close``, ``reopen``, ``note``, ``convert`` and ``timeline`` subcommands, the incident picker, the
incident modals' submissions, the summary's buttons, the close gate's fix buttons and the timeline's
"Show more".

Commands and buttons ack at once and open their modal right after (the incident is looked up after
the ack). A submission is parsed and checked against the incident's current version before its ack
(a stale form is answered with the fresh modal and a warning); the change itself runs after the ack.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.help import Message, error_message
from bot.blocks.ids import ActionId, BlockId, CallbackId
from bot.blocks.incident import note_added_message, timeline_message
from bot.blocks.manage import (
    NOTE_MAX_LENGTH,
    FormInvalid,
    ModalContext,
    View,
    close_modal,
    conflict_view,
    conversion_offer_message,
    convert_modal,
    incident_picker_modal,
    milestone_modal,
    modal_context,
    note_modal,
    parse_close,
    parse_convert,
    parse_milestone,
    parse_note,
    parse_reopen,
    parse_roles,
    parse_status,
    parse_update,
    refusal_message,
    reopen_modal,
    roles_modal,
    status_modal,
    update_modal,
)
from bot.blocks.state import row_id
from bot.blocks.timeline import milestones_modal
from bot.domain.errors import UserFacingError
from bot.domain.incident import Actor, Incident, Milestone, Status
from bot.domain.lifecycle import Fix, TransitionRefused
from bot.domain.priority import ResponseChange
from bot.service import EDIT_MILESTONES, TIMELINE_PAGE_SIZE, IncidentService
from handlers.background import Background
from handlers.command import CommandCall, CommandRouter
from handlers.picker import picked
from handlers.reply import actor_of, picker_respond, tell_user

OPEN_MODAL_PATTERN = re.compile(rf"^{re.escape(ActionId.OPEN_MODAL)}(\..+)?$")
FIX_PATTERN = re.compile(rf"^{re.escape(ActionId.FIX)}\.[0-9]+$")

SUBCOMMANDS: tuple[tuple[str, str, str], ...] = (
    ("update", "update", "Change the title, summary, category, environments or priority"),
    ("status", "status", "Change the status"),
    ("roles", "roles", "Assign the commander and the other roles"),
    ("note", "note <text>", "Add a note to the timeline"),
    ("timeline", "timeline", "Show the timeline"),
    ("milestones", "milestones", "Set and correct the milestones"),
    ("close", "close", "Close the incident (or close it early)"),
    ("reopen", "reopen", "Reopen a mitigated or closed incident"),
    ("convert", "convert", "Make a critical incident lowered to P4/P5 a normal one"),
)
ACTIONS: dict[str, str] = {
    "update": "update",
    "status": "change the status of",
    "roles": "assign roles in",
    "note": "add notes to",
    "close": "close",
    "reopen": "reopen",
    "convert": "convert",
    "milestone": "edit the milestones of",
    "milestones": EDIT_MILESTONES,
}
"""Modal kind → what the access refusal says the user may not do."""
WITH_CLOSED = frozenset({"reopen", "timeline", "note", "milestones"})
"""Subcommands whose picker also offers recently closed incidents."""
FIX_MODALS: dict[str, str] = {
    Fix.MITIGATE_FIRST: "status",
    Fix.MOVE_TO_POSTMORTEM: "status",
    # The domain asks for a justification only to reopen (lifecycle._justification).
    Fix.ADD_JUSTIFICATION: "reopen",
    Fix.CHOOSE_KEPT_INCIDENT: "close",
}
PICKER_PROMPTS: dict[str, str] = {
    "timeline": "Which incident's timeline?",
    "note": "Add the note to which incident?",
    "milestones": "Which incident's milestones?",
}
NO_INCIDENT = "There is no open incident you can act on."
LINK_OPTION = "channel"
"""The App Home menu's "Open channel" option (a link, no modal)."""


def register(
    app: AsyncApp, service: IncidentService, router: CommandRouter, background: Background
) -> None:
    catalog = service.catalog

    # --- building the modals -------------------------------------------------------------------

    async def modal_for(kind: str, incident: Incident) -> View:
        if kind == "update":
            return update_modal(incident, catalog, styles=service.priority_styles)
        if kind == "status":
            return status_modal(incident, service.status_targets(incident))
        if kind == "roles":
            return roles_modal(incident, catalog, await service.role_holders(incident.id))
        if kind == "close":
            return close_modal(incident, await service.close_blockers(incident))
        if kind == "reopen":
            return reopen_modal(incident)
        if kind == "convert":
            return convert_modal(incident)
        if kind == "note":
            return note_modal(incident)
        if kind == "milestones":
            return milestones_modal(incident, service.timezone)
        raise ValueError(f"unknown incident modal {kind!r}")

    async def allowed_modal(kind: str, incident_id: int, user_id: str) -> View:
        incident = await service.require_may_act(incident_id, user_id, ACTIONS[kind])
        return await modal_for(kind, incident)

    async def show_modal(
        client: AsyncWebClient, body: dict[str, Any], trigger_id: str, view: View
    ) -> None:
        """Open ``view``, stacked on the modal the click came from if any."""
        if _view_id(body) is not None:
            await client.views_push(trigger_id=trigger_id, view=view)
        else:
            await client.views_open(trigger_id=trigger_id, view=view)

    async def refresh_close_modal(
        client: AsyncWebClient, view_id: str | None, incident_id: int
    ) -> None:
        """A fix done from the close modal (a stacked modal or a button on it): show that close
        modal again with what is still missing."""
        if not view_id:
            return
        incident = await service.require(incident_id)
        await client.views_update(view_id=view_id, view=await modal_for("close", incident))

    # --- the subcommands -----------------------------------------------------------------------

    async def add_note(
        incident_id: int, text: str, user_id: str, intent_key: str, say: Callable[[Message], Any]
    ) -> None:
        await service.add_note(incident_id, text, by=Actor.user(user_id), intent_key=intent_key)
        await say(note_added_message(await service.require(incident_id), text))

    async def show_timeline(
        incident_id: int, page: int, respond: AsyncRespond, user_id: str, *, replace: bool = False
    ) -> None:
        incident = await service.require(incident_id)
        entries, has_more = await service.timeline_page(incident_id, page - 1)
        # The menus to edit entries are shown only to those the service lets edit the timeline
        # (it checks again when they submit).
        editable = await service.may_edit_timeline(incident, user_id)
        message = timeline_message(
            incident,
            entries,
            tz=service.timezone,
            page=page,
            page_size=TIMELINE_PAGE_SIZE,
            has_more=has_more,
            editable=editable,
            followups=service.jira,
        )
        await respond(
            text=message["text"],
            blocks=message["blocks"],
            response_type="ephemeral",
            replace_original=replace,
        )

    async def respond_with(call: CommandCall, message: Message) -> None:
        await call.respond(text=message["text"], blocks=message.get("blocks"))

    async def start(call: CommandCall, kind: str) -> None:
        incident = await service.incident_in_channel(call.channel_id)
        if incident is None:
            await open_picker(call, kind)
            return
        if kind == "timeline":
            await show_timeline(incident.id, 1, call.respond, call.user_id)
        elif kind == "note" and call.argument.strip():
            await add_note(
                incident.id,
                call.argument,
                call.user_id,
                call.trigger_id,
                lambda message: respond_with(call, message),
            )
        else:
            view = await allowed_modal(kind, incident.id, call.user_id)
            await call.client.views_open(trigger_id=call.trigger_id, view=view)

    async def open_picker(call: CommandCall, kind: str) -> None:
        incidents = await service.incidents_to_act_on(
            call.user_id, include_closed=kind in WITH_CLOSED
        )
        if not incidents:
            await respond_with(call, error_message(NO_INCIDENT))
            return
        extra: dict[str, Any] = {}
        if kind in ("note", "timeline"):
            extra = {"response_url": call.body.get("response_url"), "intent": call.trigger_id}
        note = call.argument.strip()
        if kind == "note" and note and len(note) <= NOTE_MAX_LENGTH // 2:
            extra["text"] = note
        view = incident_picker_modal(
            incidents,
            action=kind,
            styles=service.priority_styles,
            prompt=PICKER_PROMPTS.get(kind, f"Which incident do you want to {kind}?"),
            extra=extra,
        )
        await call.client.views_open(trigger_id=call.trigger_id, view=view)

    def subcommand(kind: str) -> Callable[[CommandCall], Awaitable[None]]:
        async def handle_manage_command(call: CommandCall) -> None:
            await call.ack()
            call.later(start(call, kind))

        return handle_manage_command

    for name, usage, summary in SUBCOMMANDS:
        router.add(name, usage, summary, subcommand(name))

    # --- the picker ----------------------------------------------------------------------------

    async def handle_pick_incident_submission(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        choice = await picked(view, ack)
        if choice is None:
            return
        user_id = str(actor_of(body))
        respond = picker_respond(choice.extra)
        text = choice.extra.get("text")
        if choice.action == "timeline" or (choice.action == "note" and text):
            await ack()
            work = (
                show_timeline(choice.incident_id, 1, respond, user_id)
                if choice.action == "timeline" and respond is not None
                else add_note(
                    choice.incident_id,
                    str(text),
                    user_id,
                    str(choice.extra.get("intent") or body["view"]["id"]),
                    lambda message: tell_user(client, body, message, respond=respond),
                )
            )
            background.after_ack(work, body=body, client=client)
            return
        try:
            fresh = await allowed_modal(choice.action, choice.incident_id, user_id)
        except UserFacingError as refused:
            await ack(response_action="errors", errors={BlockId.PICK_INCIDENT: refused.message})
            return
        await ack(response_action="update", view=fresh)

    app.view(CallbackId.PICK_INCIDENT_MODAL)(handle_pick_incident_submission)

    # --- the modal submissions -----------------------------------------------------------------

    async def is_stale(kind: str, context: ModalContext, ack: AsyncAck) -> bool:
        """Answer a form opened on an older version with the fresh modal and a warning."""
        incident = await service.require(context.incident_id)
        if not incident.form_is_stale(version=context.version, state=context.state):
            return False
        await ack(
            response_action="update", view=conflict_view(kind, await modal_for(kind, incident))
        )
        return True

    def submission(
        kind: str | None,
        parse: Callable[[dict[str, Any]], Any],
        perform: Callable[
            [Any, ModalContext, Actor, dict[str, Any], AsyncWebClient], Awaitable[None]
        ],
    ) -> Callable[..., Awaitable[None]]:
        """The listener of an incident modal's submission; ``kind`` ``None``: a modal that does
        not conflict with a newer version of the incident (a milestone)."""

        async def handle_incident_modal_submission(
            ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
        ) -> None:
            try:
                choice = parse(view)
            except FormInvalid as invalid:
                await ack(response_action="errors", errors=invalid.errors)
                return
            context = modal_context(view)
            if kind is not None and await is_stale(kind, context, ack):
                return
            await ack()
            by = Actor.user(str(actor_of(body)))
            background.after_ack(
                performed(perform(choice, context, by, body, client), body, client, context),
                body=body,
                client=client,
            )

        return handle_incident_modal_submission

    async def performed(
        work: Awaitable[None], body: dict[str, Any], client: AsyncWebClient, context: ModalContext
    ) -> None:
        await work
        await refresh_close_modal(client, body["view"].get("previous_view_id"), context.incident_id)

    async def change_status(
        context: ModalContext,
        to: Status,
        by: Actor,
        body: dict[str, Any],
        client: AsyncWebClient,
        **details: Any,
    ) -> None:
        try:
            await service.change_status(
                context.incident_id,
                to,
                by=by,
                expected_version=context.version,
                expected_state=context.state,
                intent_key=_intent(body),
                **details,
            )
        except TransitionRefused as refused:
            incident = await service.require(context.incident_id)
            await tell_user(client, body, refusal_message(incident, refused))

    async def perform_update(
        choice: Any, context: ModalContext, by: Actor, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        updated = await service.update(
            context.incident_id,
            choice,
            by=by,
            expected_version=context.version,
            expected_state=context.state,
            intent_key=_intent(body),
        )
        if updated.response_change is ResponseChange.OFFER_CONVERSION:
            await tell_user(client, body, conversion_offer_message(updated.incident))

    async def perform_status(
        choice: Any, context: ModalContext, by: Actor, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """The status and reopen modals: a target status and a justification."""
        await change_status(
            context, choice.status, by, body, client, justification=choice.justification
        )

    async def perform_close(
        choice: Any, context: ModalContext, by: Actor, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await change_status(
            context,
            Status.CLOSED,
            by,
            body,
            client,
            justification=choice.justification,
            closure_reason=choice.closure_reason,
            closure_reference=choice.reference,
        )

    async def perform_roles(
        choice: Any, context: ModalContext, by: Actor, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await service.assign_roles(context.incident_id, choice, by=by, intent_key=_intent(body))

    async def perform_convert(
        choice: Any, context: ModalContext, by: Actor, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await service.convert(context.incident_id, by=by, intent_key=_intent(body))

    async def perform_note(
        choice: Any, context: ModalContext, by: Actor, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await add_note(
            context.incident_id,
            choice,
            by.id,
            _intent(body),
            lambda message: tell_user(client, body, message),
        )

    async def perform_milestone(
        choice: Any, context: ModalContext, by: Actor, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await service.set_milestone(
            context.incident_id, choice.milestone, choice.value, by=by, intent_key=_intent(body)
        )

    for callback_id, kind, parse, perform in (
        (CallbackId.UPDATE_MODAL, "update", lambda v: parse_update(v, catalog), perform_update),
        (CallbackId.STATUS_MODAL, "status", parse_status, perform_status),
        (CallbackId.CLOSE_MODAL, "close", parse_close, perform_close),
        (CallbackId.REOPEN_MODAL, "reopen", parse_reopen, perform_status),
        (CallbackId.ROLES_MODAL, "roles", parse_roles, perform_roles),
        (CallbackId.CONVERT_MODAL, "convert", parse_convert, perform_convert),
        (CallbackId.NOTE_MODAL, "note", parse_note, perform_note),
        (CallbackId.MILESTONE_MODAL, None, parse_milestone, perform_milestone),
    ):
        app.view(callback_id)(submission(kind, parse, perform))

    # --- buttons -------------------------------------------------------------------------------

    async def handle_open_modal_button(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        incident_id, kind = _split(action)
        if kind == LINK_OPTION:
            return  # the Home's "Open channel": Slack opens its URL, nothing to do here
        if kind not in ACTIONS or kind == "milestone":  # "milestone" is a close-gate fix
            raise UserFacingError("This button is out of date: open the incident again.")
        user_id = str(actor_of(body))

        async def open_it() -> None:
            view = await allowed_modal(kind, incident_id, user_id)
            await show_modal(client, body, body["trigger_id"], view)

        background.after_ack(open_it(), body=body, client=client)

    app.action(OPEN_MODAL_PATTERN)(handle_open_modal_button)

    async def handle_fix_button(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        await ack()
        incident_id, fix = _split(action)
        user_id = str(actor_of(body))
        background.after_ack(
            apply_fix(incident_id, fix, user_id, body=body, client=client, respond=respond),
            body=body,
            client=client,
            respond=respond,
        )

    async def apply_fix(
        incident_id: int,
        fix: str,
        user_id: str,
        *,
        body: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        kind, _, argument = fix.partition(":")
        if kind == Fix.MARK_POSTMORTEM_READY:
            await service.mark_postmortem_ready(incident_id, by=Actor.user(user_id))
            await refresh_close_modal(client, _view_id(body), incident_id)
            incident = await service.require(incident_id)
            await tell_user(
                client,
                body,
                note_added_message(incident, "Post-mortem marked ready"),
                respond=respond,
            )
            return
        if kind == Fix.SET_MILESTONE:
            if argument not in {m.value for m in Milestone}:
                raise UserFacingError("This button is out of date: close the incident again.")
            incident = await service.require_may_act(incident_id, user_id, ACTIONS["milestone"])
            view = milestone_modal(incident, Milestone(argument), service.timezone)
        else:
            view = await allowed_modal(FIX_MODALS.get(kind, "close"), incident_id, user_id)
        await show_modal(client, body, body["trigger_id"], view)

    app.action(FIX_PATTERN)(handle_fix_button)

    async def handle_timeline_more_button(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond,
    ) -> None:
        await ack()
        incident_id, page = _split(action)
        if row_id(page) is None:
            raise UserFacingError("This button is out of date: run `/incident timeline` again.")
        background.after_ack(
            show_timeline(
                incident_id, max(1, int(page)), respond, str(actor_of(body)), replace=True
            ),
            body=body,
            client=client,
            respond=respond,
        )

    app.action(ActionId.TIMELINE_MORE.value)(handle_timeline_more_button)


def _split(action: dict[str, Any]) -> tuple[int, str]:
    """``"<incident id>:<rest>"`` of a button's value (or of the option picked in a menu)."""
    value = action.get("value") or (action.get("selected_option") or {}).get("value")
    head, _, rest = str(value or "").partition(":")
    incident_id = row_id(head)
    if incident_id is None:
        raise UserFacingError("This button is out of date: open the incident again.")
    return incident_id, rest


def _view_id(body: dict[str, Any]) -> str | None:
    """The modal a button was clicked in (None for a message or the App Home)."""
    container = body.get("container") or {}
    if container.get("type") != "view" or (body.get("view") or {}).get("type") == "home":
        return None
    return str(container["view_id"])


def _intent(body: dict[str, Any]) -> str:
    """The intent of a modal submission: its view (a second delivery of it changes nothing)."""
    return f"view:{body['view']['id']}"
