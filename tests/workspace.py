"""A seeded Slack workspace, and a quick way to declare through the service and wait until its
side effects are done (shared by the lifecycle and app tests)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.declaration import Declaration
from bot.domain.incident import Actor, Incident
from sandbox.slack import SlackSandbox
from storage import models
from storage.repository import IncidentRepository


@dataclass
class Workspace:
    slack: SlackSandbox
    alice: str
    bob: str
    responder: str
    manager: str
    incidents: str
    major: str
    deployments: str
    private_digest: str


def seed_workspace(slack: SlackSandbox) -> Workspace:
    alice = slack.add_user("alice")
    bob = slack.add_user("bob")
    responder = slack.add_user("oncall")
    manager = slack.add_user("manager")
    slack.add_usergroup("payments-oncall", [responder])
    slack.add_usergroup("incident-managers", [manager])
    return Workspace(
        slack=slack,
        alice=alice,
        bob=bob,
        responder=responder,
        manager=manager,
        incidents=slack.add_channel("incidents", bot=True),
        major=slack.add_channel("incidents-major", bot=True),
        deployments=slack.add_channel("deployments", bot=True),
        private_digest=slack.add_channel("incidents-private", is_private=True, bot=True),
    )


def outage(**changes: Any) -> Declaration:
    values: dict[str, Any] = {
        "title": "Card payments failing at checkout",
        "summary": "Most card payments are refused since 14:02, wallets still work.",
        "impacts": {"business": "medium", "customers": "medium"},
        "category": "payments",
        "environments": ("PRD",),
    }
    values.update(changes)
    return Declaration(**values)


async def outbox_idle(limit_seconds: float = 10.0) -> None:
    """Wait until every side effect due now is done (or failed for good)."""
    deadline = asyncio.get_running_loop().time() + limit_seconds
    idle_checks = 0
    while asyncio.get_running_loop().time() < deadline:
        # A job handed back because its incident's lane was busy waits a fraction of a second
        # (worker.INCIDENT_BUSY_RETRY_SECONDS): that is still work in progress, a retry's backoff
        # (a second or more) is not.
        soon = datetime.now(UTC) + timedelta(seconds=0.5)
        rows = await models.OutboxItem.filter(status__in=["pending", "in_progress"]).values(
            "next_attempt_at"
        )
        busy = any(row["next_attempt_at"] <= soon for row in rows)
        # Twice idle in a row: a job that just failed may still be enqueueing its report.
        idle_checks = 0 if busy else idle_checks + 1
        if idle_checks >= 2:
            return
        await asyncio.sleep(0.03)
    raise TimeoutError("the outbox did not drain")


async def declare_and_wait(
    bot: Any,
    ws: Workspace,
    declaration: Declaration | None = None,
    *,
    by: str | None = None,
    key: str = "intent-1",
) -> Incident:
    """Declare through the service and wait until its side effects are done."""
    declared = await bot.service.declare(
        declaration or outage(), by=Actor.user(by or ws.alice), intent_key=key
    )
    await outbox_idle()
    return await IncidentRepository().require(declared.incident.id)


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float = 5.0) -> Any:
    """Poll an async ``check`` (a database read) until it returns something truthy."""
    deadline = time.monotonic() + seconds
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {seconds}s")
        await asyncio.sleep(0.01)
