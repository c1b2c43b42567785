"""User group changes: Slack's ``subteam_created``, ``subteam_updated`` and
``subteam_members_changed`` events (scope ``usergroups:read``) drop the cached user groups.

Access checks read the incident managers' and the declarers' groups through a cache that keeps
empty groups too (asking ``usergroups.list``, a tier-2 method, on every check was the cost of an
empty group). These events are what makes that safe: a group filled after the bot first looked it
up is seen at the next check, not when the cache expires. Nothing is slow here, so the listener
does its work before the ack."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.service import IncidentService

log = logging.getLogger("firefighter.usergroups")

EVENTS = ("subteam_created", "subteam_updated", "subteam_members_changed")


def changed_group(event: dict[str, Any]) -> str | None:
    """The id of the group an event is about (``subteam.id``, or ``subteam_id`` for
    ``subteam_members_changed``); None when the event lacks it."""
    subteam = event.get("subteam")
    group = subteam.get("id") if isinstance(subteam, dict) else event.get("subteam_id")
    return str(group) if group else None


def register(app: AsyncApp, service: IncidentService) -> None:
    async def handle_usergroup_event(event: dict[str, Any]) -> None:
        chat = service.chat
        if chat is None:
            return
        # Every cached group is dropped, not only this one: groups are cached by handle too, and
        # a renamed handle or a new group may answer a configured name that was unknown.
        chat.forget_usergroups()
        log.info(
            "user groups changed in Slack: asked again at the next look-up",
            extra={"event_type": event.get("type"), "usergroup": changed_group(event)},
        )

    for name in EVENTS:
        app.event(name)(handle_usergroup_event)
