"""The App Home tab: published after the ack when the user opens it, picks a filter or a page.

The filters travel in the Home view's ``private_metadata``; the overflow menu of each incident is
an ``incident.open_modal`` action (handlers/manage.py opens the modal) and the "Declare incident"
button is handled with the declare modal (handlers/declare.py)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.home import HomeFilters, apply_home_action
from bot.blocks.ids import ActionId
from bot.home_publisher import HomePublisher
from handlers.background import Background
from handlers.reply import actor_of

HOME_ACTIONS = (
    ActionId.HOME_FILTER_CATEGORY,
    ActionId.HOME_FILTER_PRIORITY,
    ActionId.HOME_FILTER_MINE,
    ActionId.HOME_SHOW_MORE,
    ActionId.HOME_FIRST_PAGE,
)


def register(app: AsyncApp, publisher: HomePublisher, background: Background) -> None:
    async def handle_home_opened_event(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        user = event.get("user")
        if event.get("tab", "home") != "home" or not isinstance(user, str) or not user:
            return  # the Messages tab, or an event without a user: nobody's Home to publish
        view = event.get("view")
        metadata = view.get("private_metadata") if isinstance(view, dict) else None
        filters = HomeFilters.from_metadata(metadata if isinstance(metadata, str) else None)
        background.after_ack(
            publisher.opened(user, filters if view else None), body=body, client=client
        )

    async def handle_home_filter_action(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        view = body.get("view") or {}
        filters = apply_home_action(HomeFilters.from_metadata(view.get("private_metadata")), action)
        user_id = str(actor_of(body))
        background.after_ack(publisher.opened(user_id, filters), body=body, client=client)

    app.event("app_home_opened")(handle_home_opened_event)
    for action_id in HOME_ACTIONS:
        app.action(action_id.value)(handle_home_filter_action)
