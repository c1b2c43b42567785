"""Database lifecycle: configuration, opening/closing, migrations, transactions and the health probe.

How Tortoise 1.1.9 holds its state (and why these helpers look the way they do):

- All ORM state lives in a ``tortoise.context.TortoiseContext`` found through a ContextVar.
  ``open_database`` creates one and makes it current *in the calling task*; tasks created afterwards
  (Bolt listeners, the scheduler, the Socket Mode client) inherit it. It also registers the context as
  Tortoise's process-wide fallback (``_enable_global_fallback``) so that code running in a task that
  was created *before* the database was opened still finds it. Only one such database can be open
  per process at a time; ``close_database`` releases it. Tests use ``tortoise_test_context``
  instead (tests/conftest.py), which never touches the fallback.
- Tortoise's migration API (``tortoise.migrations.api.migrate``) calls ``Tortoise.init`` on the
  *current* context, which would close and re-initialise the application's connections. So
  ``apply_migrations``/``pending_migrations`` run in a throw-away ``TortoiseContext`` of their own
  and leave the caller's context untouched.
- Transactions: inside ``async with transaction():`` every model query of the task goes through the
  transaction's connection (Tortoise binds it in a ContextVar); nesting makes a savepoint.
- PostgreSQL going away (a restart, a failover): asyncpg's pool notices the closed connections and
  opens new ones on the next query. ``_patient_connect`` makes that new connection wait up to
  ``RECONNECT_PATIENCE_SECONDS`` for the server to accept connections again, so work that arrives
  during a short outage (a Slack event, an outbox job's bookkeeping, a scheduled sweep) is done late
  instead of failing; a statement outside a transaction that was running on a connection the
  server closed is run again (``storage.postgres``), one inside a transaction fails.
  Work that Slack awaits an ack for does not wait (``failing_fast``): it has 3 s, and must fail in
  time to tell the user. The health probe does not wait either (``PING_TIMEOUT_SECONDS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base import executor as _executor
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionContext
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.context import TortoiseContext, get_current_context
from tortoise.migrations.api import migrate as _migrate
from tortoise.migrations.executor import MigrationExecutor
from tortoise.transactions import in_transaction

log = logging.getLogger("firefighter.storage")

APP_LABEL = "models"
MODEL_MODULES: tuple[str, ...] = ("storage.models",)
MIGRATIONS_MODULE = "storage.migrations"
DEFAULT_SQLITE_URL = "sqlite://firefighter.sqlite3"
DEFAULT_POOL_SIZE = 10
RECONNECT_PATIENCE_SECONDS = 15.0
"""How long opening a PostgreSQL connection waits for a server that refuses connections (down,
starting up or shutting down) before the query fails."""
PING_TIMEOUT_SECONDS = 2.0

_SERVER_AWAY = (OSError, asyncpg.CannotConnectNowError)
"""Connecting failed because the server is not there (refused, unreachable) or not ready."""


_hurried_task: ContextVar[asyncio.Task[Any] | None] = ContextVar(
    "firefighter_db_hurried_task", default=None
)


@contextlib.contextmanager
def failing_fast() -> Iterator[None]:
    """Inside, this task does not wait for a server that is away: opening a connection fails at
    once (work Slack awaits an ack for). Tasks started inside, such as the work handed to the
    background after the ack, still wait for it."""
    token = _hurried_task.set(asyncio.current_task())
    try:
        yield
    finally:
        _hurried_task.reset(token)


def _patience() -> float:
    hurried = _hurried_task.get()
    if hurried is not None and hurried is asyncio.current_task():
        return 0.0
    return RECONNECT_PATIENCE_SECONDS


async def _patient_connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    """``asyncpg.connect`` that waits out a server restart (see the module docstring)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _patience()
    delay = 0.1
    while True:
        try:
            return await asyncpg.connect(*args, **kwargs)
        except _SERVER_AWAY as error:
            if loop.time() + delay >= deadline:
                raise
            if delay == 0.1:
                log.warning(
                    "database unreachable; waiting for it",
                    extra={"error": f"{type(error).__name__}: {error}"},
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


def _postgres_config(database_url: str) -> dict[str, Any] | None:
    """Tortoise's expanded configuration of a PostgreSQL URL; None for any other (SQLite)."""
    config = expand_db_url(database_url)
    return config if config["engine"] == "tortoise.backends.asyncpg" else None


def _connection_config(database_url: str, pool_size: int) -> str | dict[str, Any]:
    """A PostgreSQL URL becomes Tortoise credentials with the pool's size and the patient
    connect; any other URL (SQLite) is left as it is."""
    config = _postgres_config(database_url)
    if config is None:
        return database_url
    credentials = config["credentials"]
    credentials.setdefault("maxsize", pool_size)
    credentials["connect"] = _patient_connect
    config["engine"] = "storage.postgres"  # asyncpg's, running a statement cut off again
    return config


def tortoise_config(database_url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> dict[str, Any]:
    """The Tortoise configuration for one database (PostgreSQL ``postgres://…`` or
    ``sqlite://path``); tz-aware UTC datetimes. ``pool_size``: PostgreSQL connections at most
    (at least the handlers and outbox jobs that run at once; ``?maxsize=`` in the URL wins)."""
    return {
        "connections": {"default": _connection_config(database_url, pool_size)},
        "apps": {
            APP_LABEL: {
                "models": list(MODEL_MODULES),
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


TORTOISE_ORM: dict[str, Any] = tortoise_config("sqlite://:memory:")
"""For Tortoise's CLI only (``tortoise -c storage.db.TORTOISE_ORM makemigrations``): generating
migrations needs the models, not a database, so it points at an in-memory SQLite. Apply migrations
to a real database with ``firefighter migrate`` (``apply_migrations``)."""


async def open_database(url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> TortoiseContext:
    """Connect to ``url`` and make the database current for this task and its future tasks.

    Does not create tables: call ``apply_migrations`` (or run ``firefighter migrate``) first.
    """
    # Tortoise caches each model's INSERT/UPDATE SQL per *connection name*, not per dialect: after
    # a SQLite database was used in this process, a PostgreSQL one named "default" too would get
    # SQLite's "?" placeholders. Opening a database starts from a clean cache.
    _executor.EXECUTOR_CACHE.clear()
    ctx = TortoiseContext()
    ctx.__enter__()
    try:
        await ctx.init(
            config=tortoise_config(url, pool_size=pool_size), _enable_global_fallback=True
        )
        await ctx.db().execute_query("SELECT 1")
    except BaseException:
        await ctx.close_connections()
        _leave(ctx)
        raise
    return ctx


async def close_database() -> None:
    """Close the database opened by ``open_database`` (no-op when none is open)."""
    ctx = get_current_context()
    if ctx is None:
        return
    await ctx.close_connections()
    ctx._apps = None
    ctx._inited = False
    _leave(ctx)


def _leave(ctx: TortoiseContext) -> None:
    # Restores the previous current context; only possible from the task that entered it.
    with contextlib.suppress(ValueError, RuntimeError):
        ctx.__exit__(None, None, None)


@contextlib.asynccontextmanager
async def database(
    url: str, *, pool_size: int = DEFAULT_POOL_SIZE
) -> AsyncIterator[TortoiseContext]:
    """``async with database(url):`` = ``open_database`` … ``close_database``."""
    ctx = await open_database(url, pool_size=pool_size)
    try:
        yield ctx
    finally:
        await close_database()


async def apply_migrations(url: str) -> list[str]:
    """Apply every pending migration of ``storage/migrations`` to ``url``; returns their names in
    the order applied (empty when the schema is up to date). Safe to call on every start."""
    applied: list[str] = []

    def progress(event: str, _app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(name)

    async with _migration_lock(url), TortoiseContext():
        await _migrate(config=tortoise_config(url), progress=progress)
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    return applied


MIGRATION_LOCK_KEY = 0x46495245  # "FIRE": the advisory lock that migrating holds
"""Replicas started together on one PostgreSQL database migrate one at a time: without it two
created Tortoise's own table at once and one start failed on a duplicate key."""


@contextlib.asynccontextmanager
async def _migration_lock(url: str) -> AsyncIterator[None]:
    """Hold PostgreSQL's session advisory lock ``MIGRATION_LOCK_KEY`` (waiting for a replica that
    holds it) on a connection of its own; SQLite needs none (one process per file)."""
    config = _postgres_config(url)
    if config is None:
        yield
        return
    credentials = config["credentials"]
    holder = await _patient_connect(
        host=credentials.get("host"),
        port=credentials.get("port"),
        user=credentials.get("user"),
        password=credentials.get("password"),
        database=credentials.get("database"),
    )
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        yield
    finally:
        await holder.close()  # the session's end releases the lock


async def pending_migrations(url: str) -> list[str]:
    """Names of the migrations not yet applied to ``url``, in the order they would run."""
    config = tortoise_config(url)
    async with TortoiseContext():
        await Tortoise.init(config=config, init_connections=False)
        executor = MigrationExecutor(connections.get("default"), config["apps"])
        steps = await executor.plan()
        await Tortoise.close_connections()
    return [step.migration.name for step in steps if not step.backward]


def transaction() -> TransactionContext:
    """``async with transaction():`` runs the task's queries in one transaction (a savepoint
    when nested); an exception rolls it back. Yields the transaction's connection."""
    return in_transaction()


def connection() -> BaseDBAsyncClient:
    """The current connection (the transaction's inside ``transaction()``)."""
    client: BaseDBAsyncClient = connections.get("default")
    return client


def dialect() -> str:
    """``"postgres"`` or ``"sqlite"``."""
    return str(connection().capabilities.dialect)


async def ping() -> bool:
    """True when the database answers ``SELECT 1`` within ``PING_TIMEOUT_SECONDS`` (for
    ``/healthz``: a probe does not wait for a restarting server); never raises."""
    try:
        await asyncio.wait_for(connection().execute_query("SELECT 1"), PING_TIMEOUT_SECONDS)
    except Exception:
        log.warning("database ping failed", exc_info=True)
        return False
    return True


def resolve_now(now: datetime | None) -> datetime:
    """``now`` from the caller's clock, or the system time (tz-aware UTC) when none is given.
    Pass ``now`` from ``bot.ports.Clock`` wherever the caller has one (tests control time)."""
    if now is None:
        return datetime.now(UTC)
    if now.utcoffset() is None:
        raise ValueError(f"now must be a timezone-aware datetime, got naive {now!r}")
    return now
