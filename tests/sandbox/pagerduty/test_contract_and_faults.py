"""The sandbox's contract checks (each broken rule is recorded and answered as PagerDuty would),
the spec overlay's relaxations, and the injected faults."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pagerduty
import pytest
from openapi_core.testing import MockRequest, MockResponse

from sandbox.openapi import lenient_date_time, load_api, read_spec
from sandbox.pagerduty import SandboxPagerDuty, contract
from tests.sandbox.pagerduty.roster import Roster, rest_client

pytestmark = pytest.mark.asyncio

_HEADERS: dict[str, Any] = {
    "Accept": "application/vnd.pagerduty+json;version=2",
    "Authorization": "Token token=x",
    "From": "bot@example.com",
}


def _incident(service_id: str) -> dict[str, object]:
    return {
        "type": "incident",
        "title": "Checkout is failing",
        "service": {"id": service_id, "type": "service_reference"},
    }


def _kinds(pd: SandboxPagerDuty) -> list[str]:
    found = [v.kind for v in pd.violations]
    pd.violations.clear()  # seen and asserted: the fixture's teardown check must pass
    return found


async def test_a_write_without_from_is_a_violation_answered_400(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    client = rest_client(pd)
    del client.headers["From"]
    answer = await asyncio.to_thread(
        client.post, "/incidents", json={"incident": _incident(roster.payments.id)}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == 2001
    assert "From" in " ".join(answer.json()["error"]["errors"])
    assert pd.incidents == {}
    assert _kinds(pd) == ["request"]


async def test_a_from_that_is_not_a_known_users_email_is_a_violation(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    client = rest_client(pd, from_email="stranger@example.com")
    answer = await asyncio.to_thread(
        client.post, "/incidents", json={"incident": _incident(roster.payments.id)}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["errors"] == ["Requester User Not Found"]
    violation = pd.violations[0]
    assert (violation.operation, violation.kind) == ("createIncident", "from-header")
    assert _kinds(pd) == ["from-header"]


async def test_reads_need_no_from_but_every_call_needs_the_versioned_accept(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    client = rest_client(pd)
    del client.headers["From"]
    assert (await asyncio.to_thread(client.get, f"/users/{roster.bob.id}")).status_code == 200
    assert pd.violations == []
    client.headers["Accept"] = "application/json"
    await asyncio.to_thread(client.get, f"/users/{roster.bob.id}")
    assert _kinds(pd) == ["accept"]


async def test_a_bearer_or_wrong_token_answers_401(pd: SandboxPagerDuty, roster: Roster) -> None:
    wrong = pagerduty.RestApiV2Client(
        "not-the-key", base_url=pd.base_url, verify=pd.client_ssl_context()
    )
    with pytest.raises(pagerduty.HttpError) as refused:  # the library raises on any 401
        await asyncio.to_thread(wrong.rget, "/users")
    assert refused.value.response is not None
    assert refused.value.response.status_code == 401
    assert pd.violations == []  # a valid request with the wrong key
    bearer = pagerduty.RestApiV2Client(
        pd.api_token, auth_type="bearer", base_url=pd.base_url, verify=pd.client_ssl_context()
    )
    with pytest.raises(pagerduty.HttpError):
        await asyncio.to_thread(bearer.rget, "/users")
    assert _kinds(pd) == ["authorization"]


async def test_a_body_that_breaks_the_schema_is_refused_and_recorded(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    client = rest_client(pd)
    body = {"incident": {**_incident(roster.payments.id), "urgency": "urgent"}}
    answer = await asyncio.to_thread(client.post, "/incidents", json=body)
    assert answer.status_code == 400
    assert "'urgent' is not one of ['high', 'low']" in answer.json()["error"]["errors"][0]
    assert _kinds(pd) == ["request"]


async def test_an_undocumented_path_answers_404_and_is_recorded(pd: SandboxPagerDuty) -> None:
    client = rest_client(pd)
    answer = await asyncio.to_thread(client.get, "/incidents/P1/timeline")
    assert answer.status_code == 404
    assert _kinds(pd) == ["unknown-path"]


async def test_one_429_is_answered_once_with_pagerdutys_rate_limit_headers(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    pd.inject_status(r"^/users", 429, retry_after=30)
    client = rest_client(pd)
    answer = await asyncio.to_thread(client.get, f"/users/{roster.bob.id}")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "30"
    assert answer.headers["ratelimit-remaining"] == "0"
    assert (await asyncio.to_thread(client.get, f"/users/{roster.bob.id}")).status_code == 200


async def test_a_storm_and_an_outage_last_until_ended(pd: SandboxPagerDuty, roster: Roster) -> None:
    client = rest_client(pd)
    pd.start_outage(429)
    statuses = [(await asyncio.to_thread(client.get, "/users")).status_code for _ in range(3)]
    pd.start_outage(503)
    statuses.append((await asyncio.to_thread(client.get, "/users")).status_code)
    pd.end_outage()
    statuses.append((await asyncio.to_thread(client.get, "/users")).status_code)
    assert statuses == [429, 429, 429, 503, 200]


async def test_a_slow_answer_arrives_late_and_a_lost_answer_never_arrives(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    client = rest_client(pd)
    pd.slow_down(0.3, path_pattern="^/users")
    started = time.monotonic()
    await asyncio.to_thread(client.get, "/users")
    assert time.monotonic() - started >= 0.3

    pd.lose_answer("^/incidents$", method="POST")
    with pytest.raises(pagerduty.Error) as lost:
        await asyncio.to_thread(client.rpost, "/incidents", json=_incident(roster.payments.id))
    assert lost.value.response is None  # no answer at all
    assert len(pd.incidents) == 1  # but the incident was opened


async def test_the_overlay_relaxes_only_what_the_specs_own_examples_break() -> None:
    """P1/P2 on the createIncident request example, P6 on the log entry example; P5 on an
    acknowledge entry (the spec has no example of one). Each fails on the raw spec."""
    raw = read_spec(contract.REST_FILE)
    raw_api = load_api(raw, server="/", date_time=lenient_date_time)  # no overlay
    relaxed = contract.rest_spec().api

    create = raw["paths"]["/incidents"]["post"]["requestBody"]["content"]["application/json"]
    example = json.dumps(create["examples"]["request"]["value"]).encode()
    request = MockRequest("https://h", "post", "/incidents", headers=_HEADERS, data=example)
    with pytest.raises(Exception, match="validation"):
        raw_api.validate_request(request)
    relaxed.validate_request(request)

    listing = raw["paths"]["/incidents/{id}/log_entries"]["get"]["responses"]["200"]
    page = listing["content"]["application/json"]["examples"]["response"]["value"]
    acknowledge = {
        **page["log_entries"][0],
        "id": "R2",
        "type": "acknowledge_log_entry",
        "agent": {"id": "PU1", "type": "user_reference"},
        "channel": {"type": "website"},
    }
    for entries in ([page["log_entries"][0]], [acknowledge]):
        body = json.dumps({**page, "log_entries": entries}).encode()
        get = MockRequest("https://h", "get", "/incidents/P1/log_entries", headers=_HEADERS)
        with pytest.raises(Exception, match="not valid"):
            raw_api.validate_response(get, MockResponse(body))
        relaxed.validate_response(get, MockResponse(body))
