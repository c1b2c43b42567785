"""Publishing the App Home: at once when the viewer opens it or changes a filter, and again,
debounced, when something they see changes.

After the outbox worker has synced an incident (``incident_changed``), the Homes of the users
concerned are re-rendered: the incident's declarer and role holders, and everyone who opened the
Home recently. Each user's refresh is coalesced: at most one publication per ``interval`` seconds,
the first one ``settle`` seconds after the change (a burst of changes makes one publication).

Everything is in-process and bounded: at most ``max_viewers`` recent viewers (the least recent
are forgotten, and so are those not seen for ``viewer_ttl`` seconds), and at most ``max_pending``
refreshes waiting. A Home not refreshed here is re-rendered when its user next opens it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from bot.blocks.home import HomeFilters, View, home_view
from bot.service import IncidentService

log = logging.getLogger("firefighter.home")

Publish = Callable[[str, View], Awaitable[Any]]
"""``views.publish`` for a user."""


class HomePublisher:
    def __init__(
        self,
        service: IncidentService,
        publish: Publish,
        *,
        settle: float = 0.25,
        interval: float = 2.0,
        max_viewers: int = 1000,
        viewer_ttl: float = 3600.0,
        max_pending: int = 2000,
    ) -> None:
        self.service = service
        self._publish = publish
        self.settle = settle
        self.interval = interval
        self.max_viewers = max_viewers
        self.viewer_ttl = viewer_ttl
        self.max_pending = max_pending
        self._viewers: OrderedDict[str, tuple[HomeFilters, float]] = OrderedDict()
        """Recent viewers, least recent first: their filters and when they were last seen."""
        self._last: dict[str, float] = {}
        """When each user's Home was last published (pruned with the viewers)."""
        self._due: dict[str, float] = {}
        self._changed: set[int] = set()
        self._wake = asyncio.Event()

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def filters_of(self, user_id: str) -> HomeFilters:
        """The filters ``user_id`` last chose (defaults when unknown here)."""
        seen = self._viewers.get(user_id)
        return seen[0] if seen else HomeFilters()

    async def opened(self, user_id: str, filters: HomeFilters | None = None) -> None:
        """``user_id`` looks at their Home (opened it, chose a filter, a page): publish it now
        with ``filters`` (or their last ones), and keep them among the recent viewers."""
        filters = filters if filters is not None else self.filters_of(user_id)
        self._seen(user_id, filters)
        await self.publish(user_id, filters)

    async def publish(self, user_id: str, filters: HomeFilters | None = None) -> None:
        """Render and publish ``user_id``'s Home now (with ``filters``, or their last ones)."""
        filters = filters if filters is not None else self.filters_of(user_id)
        self._due.pop(user_id, None)
        now = self._now()
        self._last[user_id] = now
        if len(self._last) > self.max_viewers + self.max_pending:
            # Older than ``interval`` it no longer delays anything.
            self._last = {u: t for u, t in self._last.items() if t > now - self.interval}
        service = self.service
        page = await service.home_page(user_id, filters)
        view = home_view(
            page,
            styles=service.priority_styles,
            tz=service.timezone,
            now=service.clock.now(),
            command=service.catalog.slack.command,
            categories=[(c.key, c.name) for c in service.catalog.categories],
        )
        await self._publish(user_id, view)

    def incident_changed(self, incident_id: int) -> None:
        """An incident was synced: refresh the Homes that show it (soon, coalesced)."""
        if len(self._changed) < self.max_pending:
            self._changed.add(incident_id)
        self._wake.set()

    def refresh(self, users: Iterable[str]) -> None:
        """Schedule a refresh of these users' Homes (coalesced per user)."""
        now = self._now()
        for user in users:
            if user in self._due:
                continue  # already waiting: this change joins that publication
            if len(self._due) >= self.max_pending:
                break
            self._due[user] = max(now + self.settle, self._last.get(user, -1e9) + self.interval)
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._due)

    def _seen(self, user_id: str, filters: HomeFilters) -> None:
        self._viewers[user_id] = (filters, self._now())
        self._viewers.move_to_end(user_id)
        while len(self._viewers) > self.max_viewers:
            forgotten, _ = self._viewers.popitem(last=False)
            self._last.pop(forgotten, None)

    def _recent_viewers(self) -> list[str]:
        horizon = self._now() - self.viewer_ttl
        while self._viewers:
            user, (_, seen) = next(iter(self._viewers.items()))
            if seen >= horizon:
                break
            self._viewers.popitem(last=False)
            self._last.pop(user, None)
        return list(self._viewers)

    async def run(self) -> None:
        """Publish the refreshes when due, until cancelled."""
        while True:
            if self._changed:
                changed, self._changed = self._changed, set()
                try:
                    audience = await self.service.home_audience(changed)
                except Exception:
                    log.exception("could not find whose Home shows the changed incidents")
                    audience = set()
                self.refresh([*self._recent_viewers(), *sorted(audience)])
            now = self._now()
            for user in [u for u, due in self._due.items() if due <= now]:
                try:
                    await self.publish(user)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning("could not refresh a Home", exc_info=True, extra={"user": user})
            self._wake.clear()
            if self._changed:
                continue
            timeout = max(0.0, min(self._due.values()) - self._now()) if self._due else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
