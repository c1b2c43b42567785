"""Events the app is subscribed to but no feature acts on (yet, or for this payload).

Bolt answers an event without a listener with 404, which the Socket Mode adapter turns into *no ack*,
so Slack would redeliver it (SLACK_NOTES §6.4). Registered last, this listener acknowledges them."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp

log = logging.getLogger("firefighter.events")


def register(app: AsyncApp) -> None:
    async def handle_other_event(event: dict[str, Any]) -> None:
        log.debug("event acknowledged without action", extra={"event_type": event.get("type")})

    app.event(re.compile(".*"))(handle_other_event)
