"""Small typed Protocols the service needs; adapters in ``integrations/`` implement them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Time is injected (ARCHITECTURE principle 7); storage and logic take ``now`` from here."""

    def now(self) -> datetime:
        """The current time, tz-aware UTC."""
        ...
