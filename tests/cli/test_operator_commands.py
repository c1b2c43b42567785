"""`firefighter check`, `migrate` and `demo`, run as an operator would: real processes."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from sandbox.slack import DEFAULT_BOT_SCOPES, SlackSandbox
from tests.conftest import create_database, drop_database, postgres_url

REPO = Path(__file__).resolve().parents[2]


async def firefighter(*args: str, **env: str) -> tuple[int, str]:
    """Run `python -m bot ARGS` with ENV on top of a clean environment; (exit code, output)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in {"HTTP_PROXY", "HTTPS_PROXY"}
        and not k.startswith(("SLACK_", "JIRA_", "PAGERDUTY_", "CONFLUENCE_", "FIREFIGHTER_"))
        and k != "DATABASE_URL"
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=REPO,
        env={**base, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode()


@pytest_asyncio.fixture
async def empty_database() -> AsyncIterator[str]:
    name = await create_database()
    yield f"{postgres_url().rpartition('/')[0]}/{name}"
    await drop_database(name)


async def test_check_validates_the_config_and_the_tokens(slack: SlackSandbox) -> None:
    code, out = await firefighter(
        "check",
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_APP_TOKEN=slack.app_token,
        SLACK_API_URL=slack.base_url,
    )
    assert code == 0, out
    assert "is valid" in out
    assert "bot token OK" in out
    assert "app-level token OK" in out
    assert slack.bot_token not in out


async def test_check_lists_the_scopes_the_installed_app_lacks() -> None:
    scopes = [s for s in DEFAULT_BOT_SCOPES if s not in {"pins:write", "bookmarks:write"}]
    async with SlackSandbox(bot_scopes=scopes) as slack:
        code, out = await firefighter(
            "check",
            SLACK_BOT_TOKEN=slack.bot_token,
            SLACK_APP_TOKEN=slack.app_token,
            SLACK_API_URL=slack.base_url,
        )
    assert code == 1
    assert "  - bookmarks:write\n  - pins:write" in out


async def test_check_refuses_a_wrong_token(slack: SlackSandbox) -> None:
    code, out = await firefighter(
        "check", SLACK_BOT_TOKEN="xoxb-not-the-right-one", SLACK_API_URL=slack.base_url
    )
    assert code == 1
    assert "auth.test refused the bot token: invalid_auth" in out


async def test_an_invalid_config_names_file_line_and_field(tmp_path: Path) -> None:
    config = tmp_path / "firefighter.yaml"
    config.write_text("slack:\n  command: incident\n")
    code, out = await firefighter("check", FIREFIGHTER_CONFIG=str(config))
    assert code != 0
    assert f"{config}:2:" in out
    assert "slack.command" in out


async def test_migrate_lists_then_applies_pending_migrations(empty_database: str) -> None:
    code, out = await firefighter("migrate", "--check", DATABASE_URL=empty_database)
    assert code == 1
    assert "pending: models.0001_initial" in out or "pending:" in out
    code, out = await firefighter("migrate", DATABASE_URL=empty_database)
    assert code == 0, out
    assert "applied:" in out
    code, out = await firefighter("migrate", "--check", DATABASE_URL=empty_database)
    assert code == 0
    assert "0 migration(s) pending" in out


async def test_run_without_tokens_says_what_to_set() -> None:
    code, out = await firefighter("run")
    assert code == 2
    assert "SLACK_BOT_TOKEN" in out


async def test_check_compares_the_catalog_with_jira_and_locates_each_mismatch(
    tmp_path: Path,
) -> None:
    from sandbox.jira import SandboxJira

    config = tmp_path / "firefighter.yaml"
    example = (REPO / "bot" / "firefighter.example.yaml").read_text()
    # One category routed to a project the site does not have.
    config.write_text(example.replace("jira: {project: CHK}", "jira: {project: CHQ}"))
    async with SandboxJira(mode="cloud") as jira:
        from bot.config import load_catalog
        from sandbox.jira.seed import seed_site

        seed_site(jira, load_catalog(None))  # the example catalog's projects (CHK, not CHQ)
        code, out = await firefighter(
            "check",
            FIREFIGHTER_CONFIG=str(config),
            JIRA_URL=jira.base_url,
            JIRA_USER=jira.bot.email,
            JIRA_API_TOKEN=jira.bot.api_token,
        )
        jira.assert_no_violations()
    assert code == 1, out
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if "CHQ" in text)
    assert f"jira: {config}:{line}:" in out
    assert "Jira has no project CHQ" in out
    # The custom fields the example maps do not exist on this site either.
    assert "jira.field_mapping.customfield_10200: Jira has no field customfield_10200" in out
    assert jira.bot.api_token not in out
