"""Work done after the acknowledgement.

The app runs with ``process_before_response=True``: Bolt sends a listener's ack as soon as the
listener returns, instead of polling for it every 10 ms (PRODUCT §6, issue 3's ack target).
Listeners therefore parse, ``ack()`` and hand the rest (database writes, Slack calls) to
``Background.after_ack``, which runs it as a task and reports a failure to the user exactly like
the app's error handler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from handlers.errors import report_error

log = logging.getLogger("firefighter.background")


class Background:
    """The tasks started after acks (one per app; ``drain`` waits for them at shutdown)."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[None]] = set()

    def after_ack(
        self,
        work: Awaitable[None],
        *,
        body: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond | None = None,
    ) -> asyncio.Task[None]:
        """Run ``work`` once the listener has returned (its ack is then on its way to Slack)."""

        async def guarded() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception as error:
                try:
                    await report_error(error, body, client, respond)
                except Exception:
                    log.exception("could not report a failure to the user")

        task = asyncio.get_running_loop().create_task(guarded())
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def drain(self, limit_seconds: float = 5.0) -> None:
        """Wait for the work in flight (shutdown, tests)."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=limit_seconds)

    @property
    def busy(self) -> bool:
        return bool(self._running)
