"""The timeline from Slack messages: 📌 / 📣 reactions (and 📎, which attaches a message's files to
the incident's Jira ticket), the "Add to incident timeline" message
shortcut, and the channel events the timeline and participants follow (membership, edited and
deleted source messages).

Every listener acknowledges at once and hands the database and Slack work to ``Background``
(PRODUCT §6). Events are delivered at least once, sometimes re-sent with a new ``event_id``: the
intent keys are built from the event's content, never from its envelope."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.help import error_message
from bot.blocks.ids import CallbackId
from bot.blocks.incident import note_added_message
from bot.blocks.manage import (
    FormInvalid,
    TimelineAddition,
    add_to_timeline_modal,
    parse_add_to_timeline,
)
from bot.domain.declaration import SourceMessage
from bot.domain.errors import UserFacingError
from bot.domain.incident import Actor, Incident
from bot.service import AlreadyDone, IncidentService
from handlers.background import Background
from handlers.command import CommandRouter
from handlers.reply import tell_user

log = logging.getLogger("firefighter.timeline")

Ack = Callable[..., Awaitable[None]]


def register(
    app: AsyncApp, service: IncidentService, _router: CommandRouter, background: Background
) -> None:
    reactions = service.catalog.slack.reactions
    acting_emoji = {reactions.timeline, reactions.broadcast, reactions.attach}

    # -- reactions --------------------------------------------------------------------------------
    async def handle_reaction_added_event(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        if _reaction_target(event, acting_emoji) is None:
            return
        background.after_ack(reaction_added(event, client), body=body, client=client)

    async def handle_reaction_removed_event(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        if _reaction_target(event, {reactions.timeline}) is None:
            return
        background.after_ack(reaction_removed(event, client), body=body, client=client)

    async def reaction_added(event: dict[str, Any], client: AsyncWebClient) -> None:
        channel_id, ts = event["item"]["channel"], event["item"]["ts"]
        user_id = str(event["user"])
        if event["reaction"] == reactions.attach:
            await attach_files(channel_id, ts, user_id, client)
            return
        incident = await service.incident_in_channel(channel_id)
        if incident is None or await _is_bot(client, user_id):
            return
        source = await _fetch_source(client, channel_id, ts)
        if source is None:
            log.info("reacted message not found", extra={"channel_id": channel_id, "ts": ts})
            return
        intent_key = ":".join(
            ("reaction", channel_id, ts, user_id, str(event["reaction"]), str(event["event_ts"]))
        )
        if event["reaction"] == reactions.timeline:
            await service.pin_message(
                incident.id, source, by=Actor.user(user_id), intent_key=intent_key
            )
        else:
            await service.broadcast_reaction(
                incident.id, source, by=Actor.user(user_id), intent_key=intent_key
            )

    async def attach_files(channel_id: str, ts: str, user_id: str, client: AsyncWebClient) -> None:
        """📎: the message's files go to the incident's Jira ticket. The reaction event does not
        carry the files: the message is read back. A refusal (no file, not an incident channel,
        no Jira) reaches the reactor through the background runner; a repeat says nothing."""
        if await _is_bot(client, user_id):
            return
        message = await _fetch_message(client, channel_id, ts)
        files = [str(f["id"]) for f in (message or {}).get("files") or [] if f.get("id")]
        try:
            await service.attach_to_ticket(
                channel_id, files, by=Actor.user(user_id), intent_key=f"{channel_id}:{ts}"
            )
        except AlreadyDone:
            return

    async def reaction_removed(event: dict[str, Any], client: AsyncWebClient) -> None:
        channel_id, ts = event["item"]["channel"], event["item"]["ts"]
        user_id = str(event["user"])
        if await service.incident_in_channel(channel_id) is None or await _is_bot(client, user_id):
            return
        if await _still_reacted(client, channel_id, ts, reactions.timeline):
            return  # someone else's 📌 keeps the message on the timeline
        await service.unpin_message(channel_id, ts, by=Actor.user(user_id))

    app.event("reaction_added")(handle_reaction_added_event)
    app.event("reaction_removed")(handle_reaction_removed_event)

    # -- channel membership -----------------------------------------------------------------------
    def membership(
        change: Callable[[str, str], Awaitable[Any]],
    ) -> Callable[..., Awaitable[None]]:
        """A listener handing ``change(channel_id, user_id)`` to the background (the bot's own
        joins and leaves are not followed)."""

        async def handle_membership_event(
            body: dict[str, Any],
            event: dict[str, Any],
            client: AsyncWebClient,
            context: dict[str, Any],
        ) -> None:
            user_id, channel_id = event.get("user"), event.get("channel")
            if not user_id or not channel_id or user_id == context.get("bot_user_id"):
                return
            background.after_ack(change(channel_id, user_id), body=body, client=client)

        return handle_membership_event

    app.event("member_joined_channel")(membership(service.member_joined))
    app.event("member_left_channel")(membership(service.member_left))

    # -- edited and deleted source messages -------------------------------------------------------
    async def handle_message_changed_event(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        message = event.get("message")
        if not isinstance(message, dict):
            return  # Slack always sends it: a malformed event
        channel_id, ts = event.get("channel"), message.get("ts")
        if not channel_id or not ts or message.get("bot_id") or message.get("subtype"):
            return  # PRODUCT §5: bots' messages (the bot's own summaries included) are ignored
        background.after_ack(
            source_edited(channel_id, ts, str(message.get("text") or "")), body=body, client=client
        )

    async def handle_message_deleted_event(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        channel_id, ts = event.get("channel"), event.get("deleted_ts")
        previous = event.get("previous_message")
        if not channel_id or not ts or (isinstance(previous, dict) and previous.get("bot_id")):
            return
        background.after_ack(source_deleted(channel_id, ts), body=body, client=client)

    async def source_edited(channel_id: str, ts: str, text: str) -> None:
        await service.source_edited(channel_id, ts, text)

    async def source_deleted(channel_id: str, ts: str) -> None:
        await service.source_deleted(channel_id, ts)

    app.event({"type": "message", "subtype": "message_changed"})(handle_message_changed_event)
    app.event({"type": "message", "subtype": "message_deleted"})(handle_message_deleted_event)

    # -- the "Add to incident timeline" message shortcut ------------------------------------------
    async def handle_add_to_timeline_shortcut(
        ack: Ack, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        background.after_ack(open_add_to_timeline(body, client), body=body, client=client)

    async def open_add_to_timeline(body: dict[str, Any], client: AsyncWebClient) -> None:
        user_id = body["user"]["id"]
        channel_id = body["channel"]["id"]
        message = body.get("message") or {}
        here = await service.incident_in_channel(channel_id)
        incidents = await service.incidents_to_act_on(user_id)
        preselected = here.id if here is not None and _offered(here, incidents) else None
        source = {
            "channel": channel_id,
            "ts": str(body.get("message_ts") or message.get("ts")),
            "author": message.get("user"),
            "thread_ts": message.get("thread_ts"),
        }
        view = add_to_timeline_modal(
            incidents,
            preselected=preselected,
            message_text=str(message.get("text") or ""),
            source=source,
        )
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def handle_add_to_timeline_submission(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        try:
            addition = parse_add_to_timeline(view)
        except FormInvalid as invalid:
            await ack(response_action="errors", errors=invalid.errors)
            return
        await ack()
        user_id = str(body["user"]["id"])
        channel_id = str(addition.source.get("channel") or "")
        # Answers reach the user in the message's channel (ephemeral), else by DM.
        reply_to = {"user": {"id": user_id}, "channel": {"id": channel_id} if channel_id else None}
        work = add_from_modal(reply_to, client, user_id, str(view["id"]), addition)
        background.after_ack(work, body=reply_to, client=client)

    async def add_from_modal(
        reply_to: dict[str, Any],
        client: AsyncWebClient,
        user_id: str,
        view_id: str,
        addition: TimelineAddition,
    ) -> None:
        source = addition.source
        channel_id, ts = str(source.get("channel") or ""), str(source.get("ts") or "")
        if not channel_id or not ts:
            raise UserFacingError("I could not tell which message to add: run the shortcut again.")
        message = SourceMessage(
            channel_id=channel_id,
            ts=ts,
            text=addition.text,
            author_id=source.get("author"),
            permalink=await _permalink(client, channel_id, ts),
            thread_ts=source.get("thread_ts"),
        )
        entry = await service.pin_message(
            addition.incident_id, message, by=Actor.user(user_id), intent_key=f"view:{view_id}"
        )
        incident = await service.require(addition.incident_id)
        if entry is None:
            answer = error_message(
                f"That message is already on the timeline of {incident.reference}."
            )
        else:
            answer = note_added_message(incident, addition.text)
        await tell_user(client, reply_to, answer)

    app.message_shortcut(CallbackId.ADD_TO_TIMELINE)(handle_add_to_timeline_shortcut)
    app.view(CallbackId.ADD_TO_TIMELINE_MODAL)(handle_add_to_timeline_submission)


def _reaction_target(event: dict[str, Any], emoji: set[str]) -> tuple[str, str] | None:
    """(channel, ts) of a reaction on a message with one of ``emoji``; None for anything else."""
    item = event.get("item")
    if not isinstance(item, dict):
        return None  # Slack always sends one: a malformed event
    if event.get("reaction") not in emoji or item.get("type") != "message":
        return None
    if not item.get("channel") or not item.get("ts") or not event.get("user"):
        return None
    return str(item["channel"]), str(item["ts"])


def _offered(incident: Incident, incidents: list[Incident]) -> bool:
    return any(i.id == incident.id for i in incidents)


async def _is_bot(client: AsyncWebClient, user_id: str) -> bool:
    """PRODUCT §5: reactions from bots are ignored (Bolt already drops the bot's own)."""
    try:
        response = await client.users_info(user=user_id)
    except SlackApiError as exc:
        log.warning(
            "users.info failed; treating the reactor as a person",
            extra={"user_id": user_id, "slack_error": exc.response.get("error")},
        )
        return False
    user = response.get("user") or {}
    return bool(user.get("is_bot") or user.get("is_app_user"))


async def _fetch_message(client: AsyncWebClient, channel_id: str, ts: str) -> dict[str, Any] | None:
    """The reacted message as Slack gives it (top level, else a thread reply)."""
    history = await client.conversations_history(
        channel=channel_id, latest=ts, inclusive=True, limit=1
    )
    found = _with_ts(history.get("messages"), ts)
    if found is None:
        try:
            replies = await client.conversations_replies(
                channel=channel_id, ts=ts, oldest=ts, inclusive=True, limit=2
            )
        except SlackApiError as exc:
            if exc.response.get("error") != "thread_not_found":
                raise
            return None
        found = _with_ts(replies.get("messages"), ts)
    return found


async def _fetch_source(client: AsyncWebClient, channel_id: str, ts: str) -> SourceMessage | None:
    """The reacted message with its permalink."""
    found = await _fetch_message(client, channel_id, ts)
    if found is None:
        return None
    return SourceMessage(
        channel_id=channel_id,
        ts=ts,
        text=str(found.get("text") or ""),
        author_id=found.get("user"),
        permalink=await _permalink(client, channel_id, ts),
        thread_ts=found.get("thread_ts") if found.get("thread_ts") != ts else None,
    )


def _with_ts(messages: Any, ts: str) -> dict[str, Any] | None:
    for message in messages or []:
        if isinstance(message, dict) and message.get("ts") == ts:
            return message
    return None


async def _permalink(client: AsyncWebClient, channel_id: str, ts: str) -> str | None:
    try:
        response = await client.chat_getPermalink(channel=channel_id, message_ts=ts)
    except SlackApiError as exc:
        log.warning(
            "no permalink for a timeline message",
            extra={"channel_id": channel_id, "ts": ts, "slack_error": exc.response.get("error")},
        )
        return None
    link = response.get("permalink")
    return str(link) if link else None


async def _still_reacted(client: AsyncWebClient, channel_id: str, ts: str, emoji: str) -> bool:
    """Whether the message still carries ``emoji`` (another person's 📌)."""
    try:
        response = await client.reactions_get(channel=channel_id, timestamp=ts)
    except SlackApiError as exc:
        if exc.response.get("error") == "message_not_found":
            return False
        raise
    message = response.get("message") or {}
    return any(
        r.get("name") == emoji and int(r.get("count") or 0) > 0
        for r in message.get("reactions") or []
    )
