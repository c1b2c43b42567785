"""What the benchmarks share: the bot as its own process against the sandbox, and percentiles."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sandbox.slack import SlackSandbox

REPO = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@asynccontextmanager
async def bot_process(slack: SlackSandbox, database_url: str) -> AsyncIterator[None]:
    """`python -m bot run` against ``slack`` on ``database_url``, connected; stopped on exit."""
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
    bot = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=REPO, env=env
    )
    try:
        await slack.wait_for_connection(timeout=60)
        yield
    finally:
        bot.terminate()
        await bot.wait()
