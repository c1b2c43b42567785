"""Shared fixtures: a real PostgreSQL database per test (Tortoise's isolated test context)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import pytest_asyncio

# slack_sdk reads these and ignores NO_PROXY; every server in the suite is on loopback.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ.pop(_var, None)


REPO_ROOT = Path(__file__).resolve().parents[1]


def postgres_url() -> str:
    """Base URL of the test PostgreSQL server; tests fail (never skip) when it is unreachable."""
    return os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")


def fresh_database_url() -> str:
    """A URL whose database name Tortoise replaces with a unique one (`{}` is filled with a uuid)."""
    base, _, _name = postgres_url().rpartition("/")
    return f"{base}/ff_test_{{}}"


@pytest.fixture(scope="session")
def database_url() -> str:
    return fresh_database_url()


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[object]:
    """A fresh, migrated-by-schema PostgreSQL database, dropped after the test."""
    from tortoise.context import tortoise_test_context

    from storage.db import MODEL_MODULES

    async with tortoise_test_context(list(MODEL_MODULES), db_url=database_url) as ctx:
        name = ctx.db().database  # type: ignore[attr-defined]
        yield ctx
    # Tortoise 1.1.9's test context closes its connections but leaves the database behind.
    await drop_database(name)


async def create_database() -> str:
    """A new empty PostgreSQL database (for code that must migrate it itself); returns its name."""
    import uuid

    import asyncpg

    name = f"ff_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_url().replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name


async def drop_database(name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(postgres_url().replace("postgres://", "postgresql://", 1))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[object]:
    """The Slack sandbox; a test fails at teardown if anything it caused broke Slack's contract."""
    from sandbox.slack import SlackSandbox

    async with SlackSandbox(ack_timeout=3.0) as sandbox:
        yield sandbox
        sandbox.assert_no_violations()


@pytest.fixture
def catalog() -> object:
    from bot.config import load_catalog

    return load_catalog(None)


def bot_settings(slack: object, **extra: object) -> object:
    """Settings of a wired bot against the Slack sandbox (its HTTP server on a free loopback
    port), with ``extra`` on top: an integration's values (``jira_values``…) or a test's own."""
    from bot.config import Settings

    values: dict[str, object] = {
        "slack_bot_token": slack.bot_token,  # type: ignore[attr-defined]
        "slack_app_token": slack.app_token,  # type: ignore[attr-defined]
        "slack_api_url": slack.base_url,  # type: ignore[attr-defined]
        "http_host": "127.0.0.1",
        "http_port": 0,
        **extra,
    }
    return Settings(**values)  # type: ignore[arg-type]


async def start_test_bot(
    stack: AsyncExitStack, slack: object, settings: object, catalog: object
) -> object:
    """``bot.main.start_bot`` on ``stack`` (stopped when it closes), once its Socket Mode
    connection is up."""
    from bot.main import start_bot

    running = await start_bot(settings, catalog, stack)  # type: ignore[arg-type]
    await slack.wait_for_connection()  # type: ignore[attr-defined]
    return running


@pytest_asyncio.fixture
async def bot(db: object, slack: object, catalog: object) -> AsyncIterator[object]:
    """The real wired bot connected to the sandbox over Socket Mode, on the test database."""
    async with AsyncExitStack() as stack:
        yield await start_test_bot(stack, slack, bot_settings(slack), catalog)


@pytest_asyncio.fixture
async def process_database() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for a bot process (which must migrate it itself)."""
    name = await create_database()
    yield f"{postgres_url().rpartition('/')[0]}/{name}"
    await drop_database(name)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_process_env(slack: object, database_url: str, port: int, **extra: str) -> dict[str, str]:
    """The environment of a `python -m bot run` process against the sandbox."""
    import os

    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in {"HTTP_PROXY", "HTTPS_PROXY"}
    }
    env.update(
        SLACK_BOT_TOKEN=slack.bot_token,  # type: ignore[attr-defined]
        SLACK_APP_TOKEN=slack.app_token,  # type: ignore[attr-defined]
        SLACK_API_URL=slack.base_url,  # type: ignore[attr-defined]
        DATABASE_URL=database_url,
        FIREFIGHTER_HTTP_HOST="127.0.0.1",
        FIREFIGHTER_HTTP_PORT=str(port),
        LOG_LEVEL="DEBUG",
    )
    env.update(extra)
    return env


@pytest.fixture
def ws(slack: object) -> object:
    """Users (alice, bob, an on-call responder, an incident manager), their groups and the
    announcement channels of the example catalog."""
    from tests.workspace import seed_workspace

    return seed_workspace(slack)  # type: ignore[arg-type]


async def spawn_bot(env: dict[str, str], *, capture: bool = False) -> object:
    """`python -m bot run` with ``env`` (see ``bot_process_env``); its output piped when
    ``capture``, else discarded."""
    import asyncio
    import sys

    output = asyncio.subprocess.PIPE if capture else asyncio.subprocess.DEVNULL
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=REPO_ROOT,
        env=env,
        stdout=output,
        stderr=output,
    )


@pytest_asyncio.fixture(params=["cloud", "datacenter"])
async def jira(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    """The sandbox Jira (Cloud, then Data Center); a test fails at teardown on any contract
    violation. ``jira_catalog`` shapes it like the catalog."""
    from sandbox.jira import SandboxJira

    async with SandboxJira(mode=request.param) as sandbox:
        yield sandbox
        sandbox.assert_no_violations()


@pytest.fixture
def jira_catalog(jira: object, catalog: object) -> object:
    """The example catalog, with the sandbox Jira shaped like it (projects, workflows, components,
    mapped custom fields) and Alice and Bob as Jira users."""
    from sandbox.jira.seed import seed_site

    return seed_site(
        jira,  # type: ignore[arg-type]
        catalog,  # type: ignore[arg-type]
        people=[("Alice Martin", "alice@example.com"), ("Bob Nguyen", "bob@example.com")],
    )


def jira_values(jira: object) -> dict[str, object]:
    """A bot's settings for the sandbox Jira, Cloud or Data Center as it runs (the pull runs only
    when a test calls ``ticket_pull.pull()``: its interval is an hour)."""
    cloud = jira.mode == "cloud"  # type: ignore[attr-defined]
    return {
        "jira_url": jira.base_url,  # type: ignore[attr-defined]
        "jira_user": jira.bot.email if cloud else None,  # type: ignore[attr-defined]
        "jira_api_token": jira.bot.api_token,  # type: ignore[attr-defined]
        "jira_cloud": cloud,
        "jira_pull_seconds": 3600,
    }


@pytest_asyncio.fixture
async def jira_bot(
    db: object, slack: object, jira: object, jira_catalog: object
) -> AsyncIterator[object]:
    """The wired bot with Jira switched on against the sandbox Jira."""
    async with AsyncExitStack() as stack:
        settings = bot_settings(slack, **jira_values(jira))
        yield await start_test_bot(stack, slack, settings, jira_catalog)


# --- PagerDuty ------------------------------------------------------------------------------------

PAGERDUTY_PEOPLE = (
    ("Olive Oncall", "oncall@example.com"),  # the workspace's on-call responder in Slack
    ("Bob Nguyen", "bob@example.com"),
    ("Erin Fox", "erin@example.com"),  # in PagerDuty only: no Slack account has her e-mail
)


@pytest_asyncio.fixture
async def pagerduty(catalog: object) -> AsyncIterator[object]:
    """The sandbox PagerDuty (real TLS, its own CA) shaped like the example catalog: its services
    under the catalog's ids; Payments' level 1 is Olive (Slack's ``oncall``), level 2 Bob and Erin
    (no Slack account); SRE is Bob; every other service has nobody on call. A test fails at
    teardown on any contract violation."""
    from sandbox.pagerduty import SandboxPagerDuty
    from sandbox.pagerduty.seed import add_people, seed_account

    async with SandboxPagerDuty() as sandbox:
        people = add_people(sandbox, PAGERDUTY_PEOPLE)
        olive, bob, erin = (people[email] for _, email in PAGERDUTY_PEOPLE)
        seed_account(
            sandbox,
            catalog,  # type: ignore[arg-type]
            {"payments": [[olive], [bob, erin]], "sre": [[bob]]},
        )
        yield sandbox
        sandbox.assert_no_violations()


def pagerduty_values(pagerduty: object) -> dict[str, object]:
    """A bot's settings for the sandbox PagerDuty (the pull runs only when a test calls
    ``page_pull.pull()``: its interval is an hour)."""
    return {
        "pagerduty_api_url": pagerduty.base_url,  # type: ignore[attr-defined]
        "pagerduty_api_token": pagerduty.api_token,  # type: ignore[attr-defined]
        "pagerduty_from_email": pagerduty.bot.email,  # type: ignore[attr-defined]
        "pagerduty_ca_bundle": pagerduty.ca_pem_path,  # type: ignore[attr-defined]
        "pagerduty_pull_seconds": 3600,
    }


def pagerduty_settings(slack: object, pagerduty: object, **extra: object) -> object:
    """Settings of a bot with PagerDuty on against the sandbox."""
    return bot_settings(slack, **pagerduty_values(pagerduty), **extra)


@pytest_asyncio.fixture
async def pagerduty_bot(
    db: object, slack: object, pagerduty: object, catalog: object
) -> AsyncIterator[object]:
    """The wired bot with PagerDuty switched on against the sandbox PagerDuty."""
    async with AsyncExitStack() as stack:
        yield await start_test_bot(stack, slack, pagerduty_settings(slack, pagerduty), catalog)


# --- Confluence (post-mortems) -------------------------------------------------------------------

CONFLUENCE_PEOPLE = (("Alice Martin", "alice@example.com"), ("Carol Diaz", "carol@example.com"))
"""People with a Confluence account (they add labels, edit and delete pages in the tests)."""


@pytest_asyncio.fixture
async def confluence() -> AsyncIterator[object]:
    """The sandbox Confluence with the example catalog's space (PM) and its people; a test fails at
    teardown on any contract violation."""
    from sandbox.confluence import SandboxConfluence

    async with SandboxConfluence(space_key="PM", space_name="Post-mortems") as sandbox:
        for name, email in CONFLUENCE_PEOPLE:
            sandbox.add_user(name, email=email)
        yield sandbox
        sandbox.assert_no_violations()


@pytest.fixture
def confluence_catalog(confluence: object, catalog: object) -> object:
    """The example catalog, its post-mortems going under a page of the sandbox's PM space."""
    parent = confluence.create_page_as(  # type: ignore[attr-defined]
        confluence.bot,  # type: ignore[attr-defined]
        "PM",
        "Incident post-mortems",
    )
    section = catalog.confluence.model_copy(update={"parent_page_id": parent.id})  # type: ignore[attr-defined]
    return catalog.model_copy(update={"confluence": section})  # type: ignore[attr-defined]


def confluence_values(confluence: object) -> dict[str, object]:
    """A bot's settings for the sandbox Confluence (the readiness pull runs only when a test calls
    ``postmortem_pull.pull()``: its interval is an hour)."""
    return {
        "confluence_url": confluence.base_url,  # type: ignore[attr-defined]
        "confluence_user": confluence.bot.email,  # type: ignore[attr-defined]
        "confluence_api_token": confluence.bot.api_token,  # type: ignore[attr-defined]
        "confluence_pull_seconds": 3600,
    }


def confluence_settings(slack: object, confluence: object, **extra: object) -> object:
    """Settings of a bot with Confluence on against the sandbox."""
    return bot_settings(slack, **confluence_values(confluence), **extra)


@pytest_asyncio.fixture
async def confluence_bot(
    db: object, slack: object, confluence: object, confluence_catalog: object
) -> AsyncIterator[object]:
    """The wired bot with Confluence switched on against the sandbox Confluence."""
    async with AsyncExitStack() as stack:
        settings = confluence_settings(slack, confluence)
        yield await start_test_bot(stack, slack, settings, confluence_catalog)
