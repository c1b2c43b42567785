"""The slash command (`/incident` by default): one listener that routes subcommands.

Feature modules add their subcommands to the router; the help lists exactly what is registered, so it
never advertises something the bot cannot do. Unknown subcommands are answered with the closest one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.command import Subcommand, closest_subcommand, parse_command_text
from bot.blocks.help import help_message, unknown_subcommand_message
from handlers.background import Background


@dataclass(frozen=True, slots=True)
class CommandCall:
    """What a subcommand handler gets: who asked, where, the text after the subcommand."""

    user_id: str
    channel_id: str
    argument: str
    trigger_id: str
    ack: AsyncAck
    respond: AsyncRespond
    client: AsyncWebClient
    body: dict[str, Any]
    background: Background

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the ack (failures are told to the user)."""
        self.background.after_ack(work, body=self.body, client=self.client, respond=self.respond)


SubcommandHandler = Callable[[CommandCall], Awaitable[None]]


@dataclass
class CommandRouter:
    """Subcommands of the slash command, in the order the help lists them."""

    command: str
    background: Background
    _routes: dict[str, tuple[Subcommand, SubcommandHandler]] = field(default_factory=dict)

    def add(self, name: str, usage: str, summary: str, handler: SubcommandHandler) -> None:
        self._routes[name] = (Subcommand(name, usage, summary), handler)

    @property
    def subcommands(self) -> list[Subcommand]:
        return [sub for sub, _ in self._routes.values()]

    async def dispatch(
        self,
        body: dict[str, Any],
        ack: AsyncAck,
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        parsed = parse_command_text(body.get("text"))
        if parsed.name == "help":
            await ack(help_message(self.command, self.subcommands))
            return
        route = self._routes.get(parsed.name)
        if route is None:
            suggestion = closest_subcommand(parsed.name, [*self._routes, "help"])
            await ack(unknown_subcommand_message(self.command, parsed.name, suggestion))
            return
        _, handler = route
        await handler(
            CommandCall(
                user_id=body["user_id"],
                channel_id=body.get("channel_id", ""),
                argument=parsed.argument,
                trigger_id=body.get("trigger_id", ""),
                ack=ack,
                respond=respond,
                client=client,
                body=body,
                background=self.background,
            )
        )


def register(app: AsyncApp, router: CommandRouter) -> None:
    """Attach the router to the configured slash command."""

    async def handle_incident_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await router.dispatch(command, ack, respond, client)

    app.command(router.command)(handle_incident_command)
