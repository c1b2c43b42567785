"""Several real bot processes (`python -m bot run`) on one PostgreSQL and one set of sandboxes: their
start, their captured JSON logs, and the catalog file they read."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.clock import AcceleratedClock
from bot.config import Catalog
from sandbox.jira import SandboxJira
from sandbox.pagerduty import SandboxPagerDuty
from sandbox.pagerduty.seed import add_people, seed_account
from tests.conftest import PAGERDUTY_PEOPLE, REPO_ROOT, spawn_bot

pytest.register_assert_rewrite("tests.replicas.day")  # its checks read like the tests' asserts

EXAMPLE_CATALOG = REPO_ROOT / "bot" / "firefighter.example.yaml"


SPEEDUP = 360
"""The replicas' time runs this many times faster (one real second is six minutes)."""


@pytest.fixture
def clock() -> AcceleratedClock:
    """The replicas' accelerated clock (``FIREFIGHTER_CLOCK_SPEEDUP`` / ``_EPOCH``), which the
    vendors' sandboxes keep too: Jira and PagerDuty stamp their changes in the replicas' time."""
    return AcceleratedClock(SPEEDUP)


@pytest_asyncio.fixture
async def jira_cloud(clock: AcceleratedClock) -> AsyncIterator[SandboxJira]:
    """The sandbox Jira, Cloud only (the replicas' test is about processes, not Jira flavours);
    a test fails at teardown on any contract violation."""
    async with SandboxJira(mode="cloud", clock=clock.now) as sandbox:
        yield sandbox
        sandbox.assert_no_violations()


@pytest_asyncio.fixture
async def pagerduty_on_clock(
    clock: AcceleratedClock, catalog: Catalog
) -> AsyncIterator[SandboxPagerDuty]:
    """The sandbox PagerDuty on the replicas' clock, seeded as ``tests.conftest.pagerduty``:
    Payments' level 1 is Olive (Slack's ``oncall``)."""
    async with SandboxPagerDuty(clock=clock.now) as sandbox:
        people = add_people(sandbox, PAGERDUTY_PEOPLE)
        olive, bob, erin = (people[email] for _, email in PAGERDUTY_PEOPLE)
        seed_account(sandbox, catalog, {"payments": [[olive], [bob, erin]], "sre": [[bob]]})
        yield sandbox
        sandbox.assert_no_violations()


def catalog_file(directory: Path, example: Catalog, shaped: Catalog) -> Path:
    """The example catalog as a file, its Jira custom fields renamed to the ones ``shaped`` (the
    catalog ``sandbox.jira.seed.seed_site`` returned) points at: what a process reads."""
    text = EXAMPLE_CATALOG.read_text()
    by_source = {source: field_id for field_id, source in shaped.jira.field_mapping.items()}
    for old_id, source in example.jira.field_mapping.items():
        text = text.replace(f"{old_id}:", f"{by_source[source]}:", 1)
    path = directory / "firefighter.yaml"
    path.write_text(text)
    return path


@dataclass
class JobRun:
    """One "scheduled job ran" line: a turn of a job that held its lease."""

    job: str
    pid: int
    outcome: str
    started_at: datetime
    ended_at: datetime


@dataclass
class Replica:
    """A bot process whose output (JSON lines on stderr, anything on stdout) is read as it comes:
    a pipe nobody reads would block the process once full."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def records(self) -> list[dict[str, Any]]:
        found = []
        for line in self.lines:
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    found.append(record)
        return found

    def job_runs(self) -> list[JobRun]:
        return [
            JobRun(
                job=r["job"],
                pid=r["pid"],
                outcome=r["outcome"],
                started_at=datetime.fromisoformat(r["started_at"]),
                ended_at=datetime.fromisoformat(r["ended_at"]),
            )
            for r in self.records()
            if r.get("event") == "scheduled job ran"
        ]

    def problems(self, *, until_shutdown: bool = False) -> list[str]:
        """Lines at ERROR or worse, and tracebacks (``until_shutdown``: those logged before the
        process was asked to stop)."""
        found = []
        for line in self.lines:
            if until_shutdown and '"event": "shutting down"' in line:
                break
            if '"level": "error"' in line or '"level": "critical"' in line or "Traceback" in line:
                found.append(line)
        return found


async def _read(stream: asyncio.StreamReader | None, into: list[str]) -> None:
    if stream is None:
        return
    while line := await stream.readline():
        into.append(line.decode(errors="replace").rstrip("\n"))


async def start_replica(env: dict[str, str]) -> Replica:
    process: asyncio.subprocess.Process = await spawn_bot(env, capture=True)  # type: ignore[assignment]
    replica = Replica(process)
    replica.readers = [
        asyncio.create_task(_read(process.stdout, replica.lines)),
        asyncio.create_task(_read(process.stderr, replica.lines)),
    ]
    return replica


async def stop_replicas(replicas: Iterable[Replica], *, within: float = 30.0) -> None:
    """SIGTERM each, wait for them to stop (SIGKILL after ``within``), and read their output to
    the end."""
    replicas = list(replicas)
    for replica in replicas:
        if replica.process.returncode is None:
            replica.process.send_signal(signal.SIGTERM)
    for replica in replicas:
        try:
            await asyncio.wait_for(replica.process.wait(), timeout=within)
        except TimeoutError:
            replica.process.kill()
            await replica.process.wait()
        await asyncio.gather(*replica.readers, return_exceptions=True)


def overlapping(runs: Iterable[JobRun]) -> list[tuple[JobRun, JobRun]]:
    """Pairs of runs of one job by two processes whose holdings overlap in time."""
    by_job: dict[str, list[JobRun]] = {}
    for run in runs:
        by_job.setdefault(run.job, []).append(run)
    pairs = []
    for job_runs in by_job.values():
        ordered = sorted(job_runs, key=lambda r: r.started_at)
        latest: JobRun | None = None  # the run ending last among those started so far
        for run in ordered:
            if latest is not None and run.started_at < latest.ended_at:
                pairs.append((latest, run))
            if latest is None or run.ended_at > latest.ended_at:
                latest = run
    return pairs
