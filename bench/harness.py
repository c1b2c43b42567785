"""What the benchmarks share: the bot as its own process against the sandbox, and percentiles."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sandbox.slack import SlackSandbox

REPO = Path(__file__).resolve().parents[1]

BLOCK_METHODS = frozenset(
    {"chat.postMessage", "chat.update", "chat.postEphemeral", "chat.scheduleMessage"}
)
VIEW_METHODS = frozenset({"views.open", "views.update", "views.push", "views.publish"})


def bench_sandbox(**options: Any) -> SlackSandbox:
    """The sandbox for a timed bench: Slack's limits checked as every call arrives, the Block Kit
    JSON schema afterwards (``block_kit_problems``). The schema check is jsonschema run in the
    bench's own event loop: 15 to 50 ms of CPU per message and 100 to 350 ms per modal or App Home
    when measured (2026-11-28; 4024d37 made it about 5x cheaper since). Checked inline, it holds up
    every other call the sandbox is serving, which Slack's servers do not, and the figures would
    measure the checker."""
    return SlackSandbox(strict_block_kit=False, **options)


def block_kit_problems(slack: SlackSandbox) -> list[str]:
    """Every message's blocks and every view the bot sent to ``slack``, checked against the
    Block Kit schema as the strict sandbox does (the same checker, after the timed part)."""
    from sandbox.slack.blockkit import BlockKitChecker

    checker = BlockKitChecker(strict=True)
    problems: list[str] = []
    for request in slack.requests:
        if request.method in BLOCK_METHODS and "blocks" in request.args:
            blocks = _json_arg(request.args["blocks"])
            if blocks:
                found = checker.check_message_blocks(blocks)
                problems += [f"{request.method}: {p}" for p in found]
        elif request.method in VIEW_METHODS and "view" in request.args:
            found = checker.check_view(_json_arg(request.args["view"]))
            problems += [f"{request.method}: {p}" for p in found]
    return problems


def _json_arg(value: Any) -> Any:
    """A JSON argument as the client sent it: already decoded (a JSON body) or a string (a form)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@asynccontextmanager
async def bot_process(
    slack: SlackSandbox, database_url: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m bot migrate`, then `python -m bot run` against ``slack`` on ``database_url``,
    connected; stopped on exit.

    Yields the process, so a bench can read its resident memory (`rss_mb`)."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_APP_TOKEN=slack.app_token,
        SLACK_API_URL=slack.base_url,
        DATABASE_URL=database_url,
        FIREFIGHTER_HTTP_HOST="127.0.0.1",
        FIREFIGHTER_HTTP_PORT="0",
        LOG_LEVEL="ERROR",
    )
    # Migrated first by its own process, as the image's entrypoint does (docker-entrypoint.sh):
    # applying migrations inside the bot kept ~24 MB resident for the life of the process.
    migrate = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "migrate", cwd=REPO, env=env, stdout=asyncio.subprocess.DEVNULL
    )
    if await migrate.wait() != 0:
        raise RuntimeError("firefighter migrate failed")
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=REPO, env=env
    )
    try:
        await slack.wait_for_connection(timeout=60)
        yield bot
    finally:
        bot.terminate()
        await bot.wait()


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB, from VmRSS in /proc/<pid>/status (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def threads(pid: int) -> int:
    """Threads of a process (each that allocates may get its own glibc malloc arena)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise RuntimeError(f"no Threads for process {pid}")


def server_url() -> str:
    """The PostgreSQL server the benches create their databases on (TEST_DATABASE_URL)."""
    url = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    return url.replace("postgresql://", "postgres://", 1)


@asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database on `server_url()`, dropped on exit; yields its URL."""
    import uuid

    import asyncpg

    name = f"ff_bench_{uuid.uuid4().hex[:10]}"
    admin_url = server_url().replace("postgres://", "postgresql://", 1)
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{server_url().rpartition('/')[0]}/{name}"
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def seed_catalog_names(slack: SlackSandbox, member: str) -> None:
    """Create every channel and user group the example catalog names that ``slack`` lacks, with
    ``member`` in each group, as in a configured workspace. Without them, every access check asks
    Slack for the missing incident-managers group again (an empty answer is not cached), which
    would measure a misconfiguration, and under enforced rate tiers spend a tier-2 method."""
    from bot.config import load_catalog
    from bot.main import catalog_references

    channels, groups, _ = catalog_references(load_catalog(None))
    names = {c.name for c in slack.channels.values()}
    for channel in channels:
        name = channel.removeprefix("#")
        if name not in names:
            slack.add_channel(name, bot=True)
            names.add(name)
    handles = {g.handle for g in slack.ws.usergroups.values()}
    for group in groups:
        handle = group.removeprefix("@")
        if handle not in handles:
            slack.add_usergroup(handle, [member])
            handles.add(handle)
