"""The sandbox's Events API v2 (`/v2/enqueue` on the same TLS server), driven by the library's
`EventsApiV2Client`: trigger, de-duplication by `dedup_key`, acknowledge, resolve, and rule E1."""

from __future__ import annotations

import asyncio

import pagerduty
import pytest

from sandbox.pagerduty import SandboxPagerDuty
from tests.sandbox.pagerduty.roster import Roster

pytestmark = pytest.mark.asyncio


def _events(pd: SandboxPagerDuty, routing_key: str) -> pagerduty.EventsApiV2Client:
    client = pagerduty.EventsApiV2Client(
        routing_key, base_url=pd.base_url, verify=pd.client_ssl_context()
    )
    client.retry = {429: 1}
    client.max_http_attempts = -1
    client.max_network_attempts = 0
    return client


async def test_a_trigger_opens_one_incident_per_dedup_key_until_resolved(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    events = _events(pd, roster.payments.integration_key)
    key = await asyncio.to_thread(
        events.trigger, "Disk full on db-1", "db-1", dedup_key="db-1/disk"
    )
    again = await asyncio.to_thread(
        events.trigger, "Disk still full", "db-1", dedup_key="db-1/disk"
    )
    assert key == again == "db-1/disk"
    (incident,) = pd.incidents_with_key("db-1/disk")
    assert incident.title == "Disk full on db-1"
    assert incident.status == "triggered"
    assert [user for user, _ in incident.assignments] == [roster.alice.id]

    await asyncio.to_thread(events.acknowledge, "db-1/disk")
    assert pd.incidents[incident.id].status == "acknowledged"
    await asyncio.to_thread(events.resolve, "db-1/disk")
    assert pd.incidents[incident.id].status == "resolved"
    await asyncio.to_thread(events.trigger, "Disk full again", "db-1", dedup_key="db-1/disk")
    assert len(pd.incidents_with_key("db-1/disk")) == 2


async def test_a_trigger_without_a_key_gets_one_back(pd: SandboxPagerDuty, roster: Roster) -> None:
    events = _events(pd, roster.quiet.integration_key)
    key = await asyncio.to_thread(events.trigger, "Batch late", "cron", severity="warning")
    (incident,) = pd.incidents_with_key(key)
    assert incident.urgency == "low"
    assert incident.service_id == roster.quiet.id


async def test_acknowledging_without_a_dedup_key_breaks_rule_e1(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    events = _events(pd, roster.payments.integration_key)
    # The library refuses this itself; a raw post shows what the sandbox does with it.
    answer = await asyncio.to_thread(
        events.post,
        "/v2/enqueue",
        json={"routing_key": roster.payments.integration_key, "event_action": "acknowledge"},
    )
    assert answer.status_code == 400
    assert answer.json()["status"] == "invalid event"
    assert [v.kind for v in pd.violations] == ["dedup_key"]
    pd.violations.clear()


async def test_an_unknown_routing_key_or_a_bad_severity_is_refused(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    unknown = _events(pd, "0" * 32)
    with pytest.raises(pagerduty.HttpError) as refused:
        await asyncio.to_thread(unknown.trigger, "x", "y")
    assert refused.value.response is not None
    assert refused.value.response.json()["errors"] == ["Invalid routing key"]
    assert pd.violations == []

    events = _events(pd, roster.payments.integration_key)
    with pytest.raises(pagerduty.HttpError):
        await asyncio.to_thread(events.trigger, "x", "y", severity="fatal")
    assert [v.kind for v in pd.violations] == ["request"]
    pd.violations.clear()
    assert pd.incidents == {}
