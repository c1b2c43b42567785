"""The App Home tab, published from the database when the user opens it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.home import home_view
from bot.service import IncidentService
from handlers.background import Background


def register(app: AsyncApp, service: IncidentService, background: Background) -> None:
    async def publish_home(user_id: str, client: AsyncWebClient) -> None:
        page = await service.home_page(user_id)
        view = home_view(
            page,
            styles=service.priority_styles,
            tz=service.timezone,
            now=service.clock.now(),
            command=service.catalog.slack.command,
        )
        await client.views_publish(user_id=user_id, view=view)

    async def handle_home_opened_event(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        if event.get("tab", "home") != "home":
            return
        background.after_ack(publish_home(event["user"], client), body=body, client=client)

    app.event("app_home_opened")(handle_home_opened_event)
