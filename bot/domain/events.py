"""What a pure domain function asks the service to append to the timeline.

The function decides the kind, the text and the data; the service adds the incident id, the actor and
the time (it already has them) when it stores the entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.domain.incident import JsonValue, TimelineKind


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One timeline entry to append: ``kind``, a human ``text`` and JSON-able ``data``."""

    kind: TimelineKind
    text: str
    data: Mapping[str, JsonValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", dict(self.data))


def iso(value: datetime | None) -> str | None:
    """ISO 8601 text for timeline data and messages (``None`` stays ``None``)."""
    return None if value is None else value.isoformat()
