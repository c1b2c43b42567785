"""Text helpers for everything the bot repeats back to Slack.

User-typed text is escaped so that it can never ping ``@channel``/``@here``, forge a mention or
disguise a link (PRODUCT.md §6): Slack only interprets ``<...>`` sequences, and the three characters
``&``, ``<`` and ``>`` must be HTML-escaped in message text.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))


def escape(text: str) -> str:
    """Escape user text for mrkdwn and plain_text fields."""
    for raw, escaped in _ESCAPES:
        text = text.replace(raw, escaped)
    return text


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…"


def fit(text: str, limit: int) -> str:
    """``text`` escaped, cut so that the escaped form fits ``limit`` (never splitting an entity)."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    cut = limit - 1
    while cut > 0 and len(escape(text[:cut])) > limit - 1:
        cut -= 1
    return escape(text[:cut]) + "…"


def duration(delta: timedelta) -> str:
    """A human duration with units: ``45 s``, ``12 min``, ``3 h 5 min``, ``2 d 4 h``."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    """A timestamp in the configured time zone, with the zone's abbreviation: ``2026-11-27 14:05 CET``."""
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})")


def localize_times(text: str, tz: ZoneInfo) -> str:
    """Every ISO 8601 moment in ``text`` (how the domain records times in entry texts) shown
    in the configured time zone: ``2026-11-27 14:05 CET``."""

    def local(match: re.Match[str]) -> str:
        try:
            moment = datetime.fromisoformat(match.group(0).replace("Z", "+00:00"))
        except ValueError:
            return match.group(0)
        return local_time(moment, tz)

    return _ISO_MOMENT.sub(local, text)
