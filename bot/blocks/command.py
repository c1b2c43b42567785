"""Parsing of the slash command's text and the suggestion for a mistyped subcommand."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Subcommand:
    """One `/incident` subcommand as the help lists it."""

    name: str
    usage: str
    summary: str


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """``/incident note the DB is back`` → ``ParsedCommand("note", "the DB is back")``."""

    name: str
    argument: str


def parse_command_text(text: str | None) -> ParsedCommand:
    """Split the text after the command into a lower-cased subcommand and the rest (kept verbatim).

    An empty text is the ``help`` subcommand.
    """
    stripped = (text or "").strip()
    if not stripped:
        return ParsedCommand("help", "")
    head, _, rest = stripped.partition(" ")
    return ParsedCommand(head.lower(), rest.strip())


def closest_subcommand(name: str, known: list[str]) -> str | None:
    """The known subcommand closest to a mistyped one, if any is reasonably close."""
    matches = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.5)
    if matches:
        return matches[0]
    prefixed = [k for k in known if k.startswith(name.lower()[:3])] if len(name) >= 3 else []
    return prefixed[0] if prefixed else None
