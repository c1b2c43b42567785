"""A PagerDuty account for tests: people, schedules, escalation policies and services, the sandbox
fixture that holds them, and the `pagerduty` library's REST client pointed at it over TLS.

Shared by the sandbox's own tests and the adapter's (`tests/integrations/test_pagerduty_pager.py`
imports the fixtures from here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pagerduty
import pytest
import pytest_asyncio

from sandbox.pagerduty import SandboxPagerDuty
from sandbox.pagerduty.state import EscalationPolicy, Schedule, Service, Shift, User


@dataclass
class Roster:
    """Payments: level 1 the Primary schedule (Alice now; Dave's shift ended an hour ago), level 2
    Bob directly and the Secondary schedule (Carol). Quiet: one level, the Nights schedule, with
    nobody on call until tonight (Erin)."""

    alice: User
    bob: User
    carol: User
    dave: User
    erin: User
    primary: Schedule
    secondary: Schedule
    nights: Schedule
    payments_policy: EscalationPolicy
    quiet_policy: EscalationPolicy
    payments: Service
    quiet: Service


def build_roster(pd: SandboxPagerDuty) -> Roster:
    now = pd.now()
    alice = pd.add_user("Alice Martin", email="alice@example.com")
    bob = pd.add_user("Bob Chen", email="bob@example.com")
    carol = pd.add_user("Carol Diaz", email="carol@example.com")
    dave = pd.add_user("Dave Evans", email="dave@example.com")
    erin = pd.add_user("Erin Fox", email="erin@example.com")
    primary = pd.add_schedule("Primary", on_call=[alice], start=now - timedelta(hours=1))
    primary.shifts.insert(0, Shift(dave.id, now - timedelta(days=1), now - timedelta(hours=1)))
    secondary = pd.add_schedule("Secondary", on_call=[carol])
    nights = pd.add_schedule(
        "Nights", on_call=[erin], start=now + timedelta(hours=8), end=now + timedelta(hours=20)
    )
    payments_policy = pd.add_escalation_policy("Payments on-call", [[primary], [bob, secondary]])
    quiet_policy = pd.add_escalation_policy("Quiet on-call", [[nights]])
    return Roster(
        alice=alice,
        bob=bob,
        carol=carol,
        dave=dave,
        erin=erin,
        primary=primary,
        secondary=secondary,
        nights=nights,
        payments_policy=payments_policy,
        quiet_policy=quiet_policy,
        payments=pd.add_service("Payments API", payments_policy),
        quiet=pd.add_service("Quiet batch", quiet_policy),
    )


@pytest_asyncio.fixture
async def pd() -> AsyncIterator[SandboxPagerDuty]:
    """A started sandbox; the test fails at teardown if any request broke the contract."""
    async with SandboxPagerDuty() as sandbox:
        yield sandbox
        sandbox.assert_no_violations()


@pytest.fixture
def roster(pd: SandboxPagerDuty) -> Roster:
    return build_roster(pd)


def rest_client(
    pd: SandboxPagerDuty, *, from_email: str | None = None
) -> pagerduty.RestApiV2Client:
    """The library's client as the adapter configures it: the test CA, a short timeout, and no
    retries of its own (a 429 or a dropped connection comes straight back)."""
    client = pagerduty.RestApiV2Client(
        pd.api_token,
        default_from=from_email or pd.bot.email,
        base_url=pd.base_url,
        verify=pd.client_ssl_context(),
    )
    client.timeout = 5
    client.retry = {429: 1}
    client.max_http_attempts = -1
    client.max_network_attempts = 0
    return client
