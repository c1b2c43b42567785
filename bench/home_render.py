"""App Home render time and SQL queries per render, with 1,000 and 50,000 incidents in PostgreSQL.

Run by hand: `.venv/bin/python bench/home_render.py [--sizes 1000 50000] [--renders 200]`
(`TEST_DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/test, names the server; a fresh
database is created, migrated and dropped per size).

The history is loaded with COPY: incidents declared at a steady 40 a day going back as far as the
size needs (1,000 → 25 days, 50,000 → 3.4 years), ~5 % private, each with a commander; the viewer
is a channel member of ~2 % of them. 20 are open, 5 of them the viewer's. A render is what the
Home listener does after its ack: ``service.home_page`` + ``home_view`` (no Slack call). Queries
are counted by wrapping the Tortoise asyncpg client's execute methods (bench/sql_count.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import asyncpg  # noqa: E402

from bench.harness import percentile  # noqa: E402
from bench.sql_count import counting_queries  # noqa: E402
from bot.blocks.home import home_view  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import load_catalog  # noqa: E402
from bot.wiring import build_service  # noqa: E402
from storage import db  # noqa: E402

VIEWER = "UVIEWER0001"
OTHERS = [f"U{n:010d}" for n in range(40)]
PER_DAY = 40
OPEN = 20
OPEN_MINE = 5
OPEN_STATUSES = ["open", "investigating", "mitigating", "mitigated", "postmortem"]
CATEGORIES = ["payments", "checkout", "search", "infrastructure"]


def server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    return url.replace("postgresql://", "postgres://", 1)


async def admin(sql: str) -> None:
    connection = await asyncpg.connect(server_url().replace("postgres://", "postgresql://", 1))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def incident_rows(size: int, now: datetime, rng: random.Random) -> tuple[list, list, list]:
    incidents, roles, participants = [], [], []
    for n in range(1, size + 1):
        created = now - timedelta(days=(size - n) / PER_DAY, minutes=rng.randint(0, 30))
        open_index = n - (size - OPEN)  # the newest OPEN incidents are open
        is_open = open_index > 0
        declarer = VIEWER if is_open and open_index <= OPEN_MINE else rng.choice(OTHERS)
        acknowledged = created + timedelta(minutes=rng.randint(1, 30))
        started = created - timedelta(minutes=rng.randint(0, 20))
        mitigated = None if is_open else created + timedelta(minutes=rng.randint(20, 300))
        closed = None if is_open else (mitigated or created) + timedelta(hours=rng.randint(1, 72))
        status = OPEN_STATUSES[open_index % len(OPEN_STATUSES)] if is_open else "closed"
        priority = rng.choice([1, 2, 2, 3, 3, 3, 4, 4, 5])
        incidents.append(
            (
                n,
                f"Incident {n}: checkout errors for some customers",
                "Customers see errors at checkout.",
                priority,
                rng.choice(CATEGORIES),
                json.dumps(["PRD"]),
                status,
                "critical" if priority <= 3 else "normal",
                rng.random() < 0.05,
                json.dumps({}),
                declarer,
                f"C{n:09d}" if priority <= 3 else None,
                f"inc-{n}" if priority <= 3 else None,
                1,
                started,
                created,
                created,
                acknowledged,
                mitigated,
                closed,
                closed,
                created,
                closed or created,
            )
        )
        roles.append((n, "commander", declarer, created, "user", declarer))
        if declarer != VIEWER and rng.random() < 0.02:
            participants.append((n, VIEWER, created, None if is_open else closed))
    return incidents, roles, participants


async def load(url: str, size: int, now: datetime) -> None:
    rng = random.Random(size)
    incidents, roles, participants = incident_rows(size, now, rng)
    connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await connection.copy_records_to_table(
            "incident",
            records=incidents,
            columns=[
                "id",
                "title",
                "summary",
                "priority",
                "category",
                "environments",
                "status",
                "response_type",
                "private",
                "custom_fields",
                "created_by",
                "channel_id",
                "channel_name",
                "version",
                "started_at",
                "detected_at",
                "declared_at",
                "acknowledged_at",
                "mitigated_at",
                "resolved_at",
                "closed_at",
                "created_at",
                "updated_at",
            ],
        )
        await connection.copy_records_to_table(
            "role_assignment",
            records=roles,
            columns=[
                "incident_id",
                "role",
                "user_id",
                "assigned_at",
                "assigned_by_kind",
                "assigned_by_id",
            ],
        )
        await connection.copy_records_to_table(
            "participant",
            records=participants,
            columns=["incident_id", "user_id", "joined_at", "left_at"],
        )
        await connection.execute(f"SELECT setval('incident_id_seq', {size})")
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def measure(size: int, renders: int) -> dict[str, float]:
    name = f"ff_bench_{uuid.uuid4().hex[:10]}"
    await admin(f'CREATE DATABASE "{name}"')
    url = f"{server_url().rpartition('/')[0]}/{name}"
    try:
        await db.apply_migrations(url)
        now = datetime.now(UTC)
        started = time.perf_counter()
        await load(url, size, now)
        load_seconds = time.perf_counter() - started
        catalog = load_catalog(None)
        service = build_service(catalog, SystemClock())
        categories = [(c.key, c.name) for c in catalog.categories]

        async def render() -> dict[str, object]:
            page = await service.home_page(VIEWER)
            return home_view(
                page,
                styles=service.priority_styles,
                tz=service.timezone,
                now=service.clock.now(),
                command="/incident",
                categories=categories,
            )

        async with db.database(url):
            for _ in range(20):  # warm-up: connections, prepared statements, caches
                await render()
            times: list[float] = []
            queries: list[int] = []
            for _ in range(renders):
                with counting_queries() as sent:
                    t0 = time.perf_counter()
                    view = await render()
                    times.append((time.perf_counter() - t0) * 1000)
                queries.append(len(sent))
            page = await service.home_page(VIEWER)
            blocks = len(view["blocks"])  # type: ignore[arg-type]
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {
        "size": size,
        "load_s": load_seconds,
        "p50": statistics.median(times),
        "p95": percentile(times, 95),
        "max": max(times),
        "queries": max(queries),
        "blocks": blocks,
        "mine": len(page.mine),
        "open": len(page.open),
    }


async def main(sizes: list[int], renders: int) -> None:
    results = [await measure(size, renders) for size in sizes]
    print(f"App Home render ({renders} renders per size; service.home_page + home_view)")
    for r in results:
        print(
            f"  {int(r['size']):>6} incidents: p50 {r['p50']:.1f} ms  p95 {r['p95']:.1f} ms  "
            f"max {r['max']:.1f} ms  queries/render {int(r['queries'])}  blocks {int(r['blocks'])}"
            f"  (mine {int(r['mine'])}, open shown {int(r['open'])}; loaded in {r['load_s']:.1f} s)"
        )
    if len(results) >= 2:
        first, last = results[0], results[-1]
        print(
            f"  ratio {int(last['size'])}/{int(first['size'])}: p50 "
            f"{last['p50'] / first['p50']:.2f}x  p95 {last['p95'] / first['p95']:.2f}x  "
            f"queries {int(last['queries'])}/{int(first['queries'])}"
        )
    print("  target: p95 < 100 ms and <= 5 queries per render, flat from 1,000 to 50,000")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 50000])
    parser.add_argument("--renders", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.renders))
