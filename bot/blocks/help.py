"""The ephemeral help of the slash command and the answer to an unknown subcommand."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.command import Subcommand
from bot.blocks.text import escape, truncate

Message = dict[str, Any]


def help_message(command: str, subcommands: Sequence[Subcommand]) -> Message:
    """Every available subcommand with one line each, and where to look next (App Home)."""
    lines = [f"`{command} {sub.usage}`: {sub.summary}" for sub in subcommands]
    listing = "\n".join(lines)
    return {
        "response_type": "ephemeral",
        "text": f"{command}: what you can do (see the App Home tab for incidents)",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": f"{command}: incident commands"},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(listing, 3000)}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "Open the *Home* tab of FireFighter for the incidents you can see.",
                    }
                ],
            },
        ],
    }


def unknown_subcommand_message(command: str, given: str, suggestion: str | None) -> Message:
    """An error that names the closest subcommand and points at the help."""
    shown = escape(truncate(given, 40))
    hint = f" Did you mean `{command} {suggestion}`?" if suggestion else ""
    text = f":warning: `{shown}` is not a {command} subcommand.{hint} Type `{command} help` for the list."
    return {
        "response_type": "ephemeral",
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def error_message(text: str) -> Message:
    """A short ephemeral error for the user who acted."""
    body = f":warning: {truncate(text, 2900)}"
    return {
        "response_type": "ephemeral",
        "text": body,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": body}}],
    }
