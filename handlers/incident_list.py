"""``/incident list [open|mine|closed]``."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.blocks.help import error_message
from bot.blocks.incident_list import incident_list_message
from bot.service import IncidentFilter, IncidentService
from handlers.background import Background
from handlers.command import CommandCall, CommandRouter


def register(
    _app: AsyncApp, service: IncidentService, router: CommandRouter, background: Background
) -> None:
    async def handle_list_command(call: CommandCall) -> None:
        choice = (call.argument.split() or ["open"])[0].lower()
        try:
            which = IncidentFilter(choice)
        except ValueError:
            await call.ack(
                error_message(
                    f"`{router.command} list` takes `open`, `mine` or `closed` (default `open`)."
                )
            )
            return
        await call.ack()
        call.later(reply(call, which))

    async def reply(call: CommandCall, which: IncidentFilter) -> None:
        incidents = await service.list_incidents(call.user_id, which)
        await call.respond(
            **incident_list_message(
                which.value,
                incidents,
                styles=service.priority_styles,
                tz=service.timezone,
                now=service.clock.now(),
                command=router.command,
            )
        )

    router.add(
        "list",
        "list [open|mine|closed]",
        "List the incidents you can see (open by default)",
        handle_list_command,
    )
