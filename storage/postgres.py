"""The PostgreSQL engine of the bot's database (``storage.db.tortoise_config`` names it): Tortoise's
asyncpg client, except that a statement run outside a transaction whose connection the server
closed under it (PostgreSQL restarting: "terminating connection due to administrator command") is
run once more, on a new connection (which ``storage.db`` opens patiently). Without it, the Slack
event or outbox step whose query was in flight at that instant failed and was lost.

Running it again is safe: the server ended the session before answering, so an aborted statement
did nothing; the rare one that committed just before is refused the second time by the unique keys
and versions the repositories write with. Inside a transaction nothing is run again (the
transaction is gone; its caller sees the error and its own retry rules apply)."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient

log = logging.getLogger("firefighter.storage")

CONNECTION_LOST = (asyncpg.ConnectionDoesNotExistError, asyncpg.exceptions.AdminShutdownError)


class RestartTolerantClient(AsyncpgDBClient):
    async def _translate_exceptions(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._translate_exceptions(func, *args, **kwargs)
        except CONNECTION_LOST as error:
            log.warning(
                "database connection lost under a statement; running it again",
                extra={"error": f"{type(error).__name__}: {error}"},
            )
            return await super()._translate_exceptions(func, *args, **kwargs)


client_class = RestartTolerantClient
