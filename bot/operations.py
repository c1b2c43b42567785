"""Operator commands: ``firefighter migrate`` and ``firefighter check``."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Catalog, Settings, locate_problems
from bot.manifest import load_manifest, missing_scopes
from bot.page_check import pagerduty_problems
from bot.postmortem_check import confluence_problems
from bot.ticket_check import jira_problems
from bot.wiring import build_docs, build_pager, build_tracker, close_web_client
from storage import db


async def migrate(settings: Settings, *, check_only: bool) -> int:
    """Apply pending migrations (or only list them with ``check_only``)."""
    await db.open_database(settings.database_url)
    try:
        pending = await db.pending_migrations(settings.database_url)
        if check_only:
            for name in pending:
                print(f"pending: {name}")
            print(f"{len(pending)} migration(s) pending")
            return 1 if pending else 0
        applied = await db.apply_migrations(settings.database_url)
        for name in applied:
            print(f"applied: {name}")
        print(f"database up to date ({len(applied)} migration(s) applied)")
        return 0
    finally:
        await db.close_database()


async def check(settings: Settings, catalog: Catalog) -> int:
    """Validate the configuration; with tokens, check them against Slack and list missing scopes."""
    source = settings.firefighter_config or "the packaged example catalog"
    print(f"configuration: {source} is valid")
    print(
        f"  {len(catalog.priorities)} priorities, {len(catalog.categories)} categories, "
        f"{len(catalog.environments)} environments, time zone {catalog.reminders.timezone}"
    )
    problems = 0
    for name, enabled in (
        ("Jira", settings.jira_enabled),
        ("PagerDuty", settings.pagerduty_enabled),
        ("Confluence", settings.confluence_enabled),
    ):
        print(f"integration {name}: {'on' if enabled else 'off (not configured)'}")
    if settings.jira_enabled:
        problems += await _check_jira(settings, catalog)
    if settings.pagerduty_enabled:
        problems += await _check_pagerduty(settings, catalog)
    if settings.confluence_enabled:
        problems += await _check_confluence(settings, catalog)
    if settings.slack_bot_token is None:
        print("slack: SLACK_BOT_TOKEN is not set; skipping the token checks")
    else:
        problems += await _check_bot_token(settings)
    if settings.slack_app_token is None:
        print("slack: SLACK_APP_TOKEN is not set; the bot cannot connect over Socket Mode")
        problems += 1 if settings.slack_bot_token is not None else 0
    else:
        problems += await _check_app_token(settings)
    print("check: OK" if problems == 0 else f"check: {problems} problem(s) found")
    return 0 if problems == 0 else 1


async def _check_jira(settings: Settings, catalog: Catalog) -> int:
    """The catalog's Jira section against the Jira site (projects, issue types, statuses…)."""
    tracker = build_tracker(settings, catalog)
    assert tracker is not None
    try:
        found = await jira_problems(catalog, tracker)
    finally:
        await tracker.close()
    for problem in locate_problems(settings.firefighter_config, found):
        print(f"jira: {problem}")
    if not found:
        print(f"jira: {settings.jira_url} matches the catalog (projects, issue types, statuses)")
    return len(found)


async def _check_pagerduty(settings: Settings, catalog: Catalog) -> int:
    """The catalog's PagerDuty services and escalation policies against the account."""
    pager = build_pager(settings)
    assert pager is not None and settings.pagerduty_from_email is not None
    try:
        found = await pagerduty_problems(catalog, pager, from_email=settings.pagerduty_from_email)
    finally:
        await pager.close()
    for problem in locate_problems(settings.firefighter_config, found):
        print(f"pagerduty: {problem}")
    if not found:
        count = len(catalog.pagerduty.services)
        print(f"pagerduty: {settings.pagerduty_api_url} has the catalog's {count} service(s)")
    return len(found)


async def _check_confluence(settings: Settings, catalog: Catalog) -> int:
    """The catalog's Confluence section against the site (the space, the parent page)."""
    docs = build_docs(settings)
    assert docs is not None
    try:
        found = await confluence_problems(catalog, docs, jira_enabled=settings.jira_enabled)
    finally:
        await docs.close()
    for problem in locate_problems(settings.firefighter_config, found):
        print(f"confluence: {problem}")
    if not found:
        print(
            f"confluence: {settings.confluence_url} has the space {catalog.confluence.space_key} "
            "and the parent page of post-mortems"
        )
    return len(found)


async def _check_bot_token(settings: Settings) -> int:
    assert settings.slack_bot_token is not None
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )
    try:
        response = await client.auth_test()
    except SlackApiError as exc:
        print(f"slack: auth.test refused the bot token: {exc.response.get('error')}")
        return 1
    finally:
        await close_web_client(client)
    print(
        f"slack: bot token OK: workspace {response.get('team')} ({response.get('team_id')}), "
        f"bot user {response.get('user')} ({response.get('user_id')})"
    )
    header = response.headers.get("X-OAuth-Scopes") or response.headers.get("x-oauth-scopes")
    granted = [s.strip() for s in (header or "").split(",") if s.strip()]
    missing = missing_scopes(granted, load_manifest())
    if missing:
        print(f"slack: the bot token lacks {len(missing)} scope(s) of slack-manifest.yaml:")
        for scope in missing:
            print(f"  - {scope}")
        print("  reinstall the app from slack-manifest.yaml to grant them")
        return 1
    print(f"slack: all {len(granted)} granted scopes cover slack-manifest.yaml")
    return 0


async def _check_app_token(settings: Settings) -> int:
    assert settings.slack_app_token is not None
    client = AsyncWebClient(base_url=settings.slack_api_url)
    try:
        await client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
    except SlackApiError as exc:
        print(f"slack: apps.connections.open refused the app token: {exc.response.get('error')}")
        return 1
    finally:
        await close_web_client(client)
    print("slack: app-level token OK (Socket Mode connections allowed)")
    return 0
