"""Every Slack id the bot owns (action, callback and block ids), as one contract between builders,
parsers and listeners. Convention: ``"<area>.<thing>"``."""

from __future__ import annotations

from enum import StrEnum


class CallbackId(StrEnum):
    """Shortcut and view callback ids (the shortcut ones are declared in slack-manifest.yaml)."""

    DECLARE_SHORTCUT = "incident.declare"
    DECLARE_FROM_MESSAGE = "incident.declare_from_message"
    ADD_TO_TIMELINE = "incident.add_to_timeline"
    HOME = "home.view"


class ActionId(StrEnum):
    """Interactive element ids."""

    HOME_OPEN_CHANNEL = "home.open_channel"
    HOME_SHOW_MORE = "home.show_more"
    HELP_OPEN_HOME = "help.open_home"


class BlockId(StrEnum):
    """Block ids that listeners or parsers look up."""

    HOME_HEADER = "home.header"
    HOME_MINE = "home.mine"
    HOME_OPEN = "home.open"
    HOME_CLOSED = "home.closed"
    HOME_EMPTY = "home.empty"
    HOME_MORE = "home.more"
