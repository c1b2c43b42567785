"""The replicas' scripted day (``tests/replicas/day.py``), again and again: a soak for the races
between bot processes that show once in many days (two replicas handling two clicks at once).

Run by hand: `.venv/bin/python bench/replicas_soak.py [--days 10] [--replicas 3]`.
Each day starts afresh: a new PostgreSQL database, new Slack, Jira and PagerDuty sandboxes on an
accelerated clock, N `python -m bot run` processes. The day is the suite's (declarations, updates,
notes, 📌/📣, status changes, a close, reminders, a priority changed in Jira, a page acknowledged in
PagerDuty) and so are its checks (every effect exactly once, none lost, no two turns of a scheduled
job overlapping). Printed per day: its wall time, whether it held, the scheduled jobs' turns (how
many, how they were spread over the processes, the longest) and the first line of what failed; a
failed day's replica logs are kept in a temporary folder named in its line.

Not part of the suite (minutes long); the suite runs one day (``tests/replicas``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.harness import fresh_postgres  # noqa: E402
from bot.clock import AcceleratedClock  # noqa: E402
from bot.config import load_catalog  # noqa: E402
from sandbox.jira import SandboxJira  # noqa: E402
from sandbox.pagerduty import SandboxPagerDuty  # noqa: E402
from sandbox.pagerduty.seed import add_people, seed_account  # noqa: E402
from sandbox.slack import SlackSandbox  # noqa: E402
from tests.conftest import PAGERDUTY_PEOPLE  # noqa: E402
from tests.replicas.conftest import SPEEDUP, JobRun  # noqa: E402
from tests.replicas.day import scripted_day  # noqa: E402


async def one_day(replicas: int) -> tuple[bool, list[JobRun], str, Path]:
    """One day on fresh sandboxes and database: (held, the jobs' turns, what failed, logs)."""
    catalog = load_catalog(None)
    clock = AcceleratedClock(SPEEDUP)
    folder = Path(tempfile.mkdtemp(prefix="replicas-soak-"))
    async with (
        SlackSandbox(ack_timeout=3.0) as slack,
        SandboxJira(mode="cloud", clock=clock.now) as jira,
        SandboxPagerDuty(clock=clock.now) as pagerduty,
        fresh_postgres() as database,
    ):
        people = add_people(pagerduty, PAGERDUTY_PEOPLE)
        olive, bob, erin = (people[email] for _, email in PAGERDUTY_PEOPLE)
        seed_account(pagerduty, catalog, {"payments": [[olive], [bob, erin]], "sre": [[bob]]})
        try:
            ran = await scripted_day(
                slack, database, jira, pagerduty, clock, catalog, folder, replicas_count=replicas
            )
        except Exception as error:
            lines = traceback.format_exception_only(error)[-1].strip().splitlines()
            return False, [], lines[0][:160] if lines else repr(error), folder
        problems = [*slack.violations, *jira.violations, *pagerduty.violations]
        runs = [run for replica in ran for run in replica.job_runs()]
        return not problems, runs, str(problems[0])[:160] if problems else "", folder


def spread(runs: list[JobRun]) -> str:
    """The turns' share per process, e.g. ``41/33/26%``."""
    per_process = Counter(run.pid for run in runs)
    total = sum(per_process.values()) or 1
    return "/".join(f"{100 * n // total}" for _, n in per_process.most_common()) + "%"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=3)
    options = parser.parse_args()

    print(
        f"{'day':>3}  {'wall s':>6}  {'held':<4}  {'turns':>5}  {'spread':<12}  {'longest s':>9}  failure"
    )
    held_days = 0
    for day in range(1, options.days + 1):
        started = time.monotonic()
        held, runs, failure, folder = await one_day(options.replicas)
        wall = time.monotonic() - started
        held_days += held
        longest = max(((r.ended_at - r.started_at).total_seconds() for r in runs), default=0.0)
        where = "" if held else f"  (logs: {folder})"
        print(
            f"{day:>3}  {wall:>6.1f}  {'yes' if held else 'NO':<4}  {len(runs):>5}  "
            f"{spread(runs):<12}  {longest:>9.3f}  {failure}{where}"
        )
    print(f"{held_days}/{options.days} days held (every effect once, none lost, no overlap)")
    return 0 if held_days == options.days else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
