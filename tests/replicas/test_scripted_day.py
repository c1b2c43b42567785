"""Three real bot processes run a scripted day (``tests.replicas.day``): every effect happens
exactly once and none is lost, every scheduled job runs, on one process at a time."""

from __future__ import annotations

from pathlib import Path

from bot.clock import AcceleratedClock
from bot.config import Catalog
from sandbox.jira import SandboxJira
from sandbox.pagerduty import SandboxPagerDuty
from sandbox.slack import SlackSandbox
from tests.replicas.day import scripted_day


async def test_three_replicas_run_a_day_with_every_effect_once_and_every_job_on_one_at_a_time(
    slack: SlackSandbox,
    process_database: str,
    jira_cloud: SandboxJira,
    pagerduty_on_clock: SandboxPagerDuty,
    clock: AcceleratedClock,
    catalog: Catalog,
    tmp_path: Path,
) -> None:
    await scripted_day(
        slack, process_database, jira_cloud, pagerduty_on_clock, clock, catalog, tmp_path
    )
