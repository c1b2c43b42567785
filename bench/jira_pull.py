"""One Jira pull cycle with 5,000 linked incidents of which 100 changed in Jira: HTTP requests and
time.

Run by hand: `.venv/bin/python bench/jira_pull.py [--linked 5000] [--changed 100] [--mode cloud]`
(`TEST_DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/test, names the server; a fresh
database is created, migrated and dropped).

Set-up (not measured): 5,000 open incidents with their tickets in PostgreSQL; the same 5,000 issues
in the sandbox Jira (created in its state directly, an hour ago, by the bot's account), then a
person raises the priority of 100 of them now. The pull's watermark is five minutes old, as after
a pull five minutes ago. Measured: ``TicketPull.pull()`` — the real ``JiraTracker`` over HTTP to
the sandbox (which validates every request and answer against Jira's OpenAPI document: that
validation is part of the time), de-duplication, and the 100 priority changes applied through the
service (each its own transaction, timeline entry and outbox rows). Target (issue 5): at most 3
search requests (pagination aside, none per issue) and under 2 s."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import asyncpg  # noqa: E402

from bot.clock import SystemClock  # noqa: E402
from bot.config import load_catalog  # noqa: E402
from bot.domain.incident import Priority  # noqa: E402
from bot.ticket import marker  # noqa: E402
from bot.ticket_pull import CURSOR, TicketPull  # noqa: E402
from bot.wiring import build_service  # noqa: E402
from integrations.jira import JiraTracker  # noqa: E402
from sandbox.jira import SandboxJira  # noqa: E402
from sandbox.jira.seed import seed_site  # noqa: E402
from storage import db, models  # noqa: E402
from storage.tickets import CursorRepository  # noqa: E402


def server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    return url.replace("postgresql://", "postgres://", 1)


async def admin(sql: str) -> None:
    connection = await asyncpg.connect(server_url().replace("postgres://", "postgresql://", 1))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


class SettableClock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def __call__(self) -> datetime:
        return self.at


async def seed_database(linked: int, keys: list[tuple[str, str]], now: datetime) -> None:
    created = now - timedelta(hours=2)
    await models.Incident.bulk_create(
        [
            models.Incident(
                id=n,
                title=f"Incident {n}: checkout errors for some customers",
                summary="Customers see errors at checkout.",
                priority=3,
                category="payments",
                environments=["PRD"],
                status="investigating",
                response_type="critical",
                created_by="UBENCH0001",
                version=1,
                declared_at=created,
                started_at=created,
                created_at=created,
                updated_at=created,
            )
            for n in range(1, linked + 1)
        ],
        batch_size=1000,
    )
    await models.Ticket.bulk_create(
        [
            models.Ticket(
                incident_id=n,
                key=key,
                issue_id=issue_id,
                url=f"https://jira.example/browse/{key}",
                project="PAY",
                written={"priority": "Medium", "summary": "", "status": "In Progress"},
                created_at=created,
                updated_at=created,
            )
            for n, (key, issue_id) in enumerate(keys, start=1)
        ],
        batch_size=1000,
    )


async def measure(linked: int, changed: int, mode: str) -> dict[str, float]:
    name = f"ff_bench_{uuid.uuid4().hex[:10]}"
    await admin(f'CREATE DATABASE "{name}"')
    url = f"{server_url().rpartition('/')[0]}/{name}"
    catalog = load_catalog(None)
    now = datetime.now(UTC)
    clock = SettableClock(now - timedelta(hours=1))
    try:
        await db.apply_migrations(url)
        async with SandboxJira(mode=mode, clock=clock) as jira:  # type: ignore[arg-type]
            seed_site(jira, catalog, people=[("Ada Lovelace", "ada@example.com")])
            ada = next(a for a in jira.accounts.values() if a.email == "ada@example.com")
            project = jira.project("PAY")
            keys = []
            started = time.perf_counter()
            for n in range(1, linked + 1):
                created = jira._create(  # the sandbox's own state, no HTTP: set-up only
                    {
                        "fields": {
                            "project": {"key": project.key},
                            "issuetype": {"name": "Incident"},
                            "summary": f"Incident {n}",
                            "labels": ["firefighter", marker(n)],
                            "priority": {"name": "Medium"},
                        }
                    },
                    "3",
                    jira.bot,
                )
                keys.append((str(created["key"]), str(created["id"])))
            clock.at = now
            for key, _ in keys[:changed]:
                jira.edit_as(ada, key, {"priority": {"name": "Highest"}})
            seed_seconds = time.perf_counter() - started
            async with db.database(url):
                await seed_database(linked, keys, now)
                await CursorRepository().set(CURSOR, now - timedelta(minutes=5), at=now)
                service = build_service(catalog, SystemClock())
                service.jira = True
                tracker = JiraTracker(
                    jira.base_url,
                    user=jira.bot.email if mode == "cloud" else None,
                    token=jira.bot.api_token,
                    cloud=mode == "cloud",
                )
                try:
                    await tracker.account_id()  # the process's first call, cached afterwards
                    pull = TicketPull(tracker, service, clock=SystemClock(), owner="bench")
                    before = len(jira.requests)
                    t0 = time.perf_counter()
                    report = await pull.pull()
                    seconds = time.perf_counter() - t0
                    requests = jira.requests[before:]
                    # The same window again: the same 100 issues read, nothing new to apply.
                    t1 = time.perf_counter()
                    await pull.pull()
                    reread_seconds = time.perf_counter() - t1
                    p1 = await models.Incident.filter(priority=int(Priority.P1)).count()
                finally:
                    await tracker.close()
            jira.assert_no_violations()
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert report is not None
    by_operation = Counter(r.operation_id or r.path for r in requests)
    searches = sum(v for k, v in by_operation.items() if "search" in k.lower())
    print(f"Jira pull cycle ({mode}): {linked:,} linked incidents, {changed} changed in Jira")
    print(f"  set-up (not measured): {seed_seconds:.1f} s")
    print(
        f"  pull: {seconds * 1000:.0f} ms · {len(requests)} HTTP requests "
        f"({searches} search) · {report.issues} issues read · {report.applied} changes applied "
        f"· incidents now P1: {p1}"
    )
    print(
        f"  the same window read again (all de-duplicated, nothing applied): "
        f"{reread_seconds * 1000:.0f} ms — the search, its answer's validation and parsing"
    )
    for operation, count in sorted(by_operation.items()):
        print(f"    {count:>4}  {operation}")
    print(
        f"  target: <= 3 search requests and < 2 s → {searches}/3 requests, "
        f"{seconds / 2:.2f}x of the time budget"
    )
    return {"seconds": seconds, "requests": len(requests), "searches": searches}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--linked", type=int, default=5000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--mode", choices=["cloud", "datacenter"], default="cloud")
    args = parser.parse_args()
    asyncio.run(measure(args.linked, args.changed, args.mode))
