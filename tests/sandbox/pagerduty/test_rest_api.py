"""The sandbox's REST API v2, driven by the real `pagerduty` library over TLS: on-calls, incidents
and the incident_key rule, notes, log entries, responders acting in PagerDuty, pagination."""

from __future__ import annotations

import asyncio
import ssl
from datetime import timedelta

import httpx2
import pagerduty
import pytest

from sandbox.pagerduty import SandboxPagerDuty
from tests.sandbox.pagerduty.roster import Roster, rest_client

pytestmark = pytest.mark.asyncio


def _incident(
    service_id: str, title: str = "Checkout is failing", **fields: object
) -> dict[str, object]:
    return {
        "type": "incident",
        "title": title,
        "service": {"id": service_id, "type": "service_reference"},
        **fields,
    }


async def test_the_sandbox_speaks_tls_that_only_its_test_ca_vouches_for(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    def with_system_cas() -> None:
        httpx2.get(f"{pd.base_url}/users/{roster.alice.id}", verify=True, trust_env=False)

    with pytest.raises(httpx2.ConnectError) as refused:
        await asyncio.to_thread(with_system_cas)
    assert isinstance(refused.value.__context__ or refused.value.__cause__, ssl.SSLError) or (
        "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    )

    bundle = ssl.create_default_context(cafile=pd.ca_pem_path)
    client = pagerduty.RestApiV2Client(pd.api_token, base_url=pd.base_url, verify=bundle)
    user = await asyncio.to_thread(client.rget, f"/users/{roster.alice.id}")
    assert user["email"] == "alice@example.com"
    with pytest.raises(pagerduty.UrlError):  # and the library would not speak plain http anyway
        client.url = pd.base_url.replace("https://", "http://")


async def test_oncalls_answer_each_level_with_schedule_shifts_and_direct_users(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    client = rest_client(pd)
    oncalls = await asyncio.to_thread(
        client.list_all,
        "/oncalls",
        params={"escalation_policy_ids[]": [roster.payments_policy.id], "earliest": True},
    )
    seen = {
        (o["escalation_level"], o["user"]["id"], (o.get("schedule") or {}).get("id"))
        for o in oncalls
    }
    # Dave's shift ended an hour ago: not on call now.
    assert seen == {
        (1, roster.alice.id, roster.primary.id),
        (2, roster.bob.id, None),
        (2, roster.carol.id, roster.secondary.id),
    }
    direct = next(o for o in oncalls if o["user"]["id"] == roster.bob.id)
    assert "start" not in direct and "end" not in direct  # a user target is on call for good


async def test_oncalls_over_a_window_include_every_overlapping_shift_and_filter_by_schedule(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    client = rest_client(pd)
    now = pd.now()
    params = {
        "schedule_ids[]": [roster.primary.id],
        "since": (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "until": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    oncalls = await asyncio.to_thread(client.list_all, "/oncalls", params=params)
    assert {o["user"]["id"] for o in oncalls} == {roster.alice.id, roster.dave.id}

    quiet = await asyncio.to_thread(
        client.list_all, "/oncalls", params={"escalation_policy_ids[]": [roster.quiet_policy.id]}
    )
    assert quiet == []  # Erin's night shift has not started


async def test_creating_an_incident_assigns_who_is_on_call_at_the_first_level_and_logs_it(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    client = rest_client(pd)
    body = _incident(
        roster.payments.id,
        urgency="low",
        incident_key="k-1",
        body={"type": "incident_body", "details": "Slack: https://example.slack.com/archives/C1"},
    )
    created = await asyncio.to_thread(client.rpost, "/incidents", json=body)

    assert created["status"] == "triggered"
    assert created["urgency"] == "low"
    assert created["incident_key"] == "k-1"
    assert [a["assignee"]["id"] for a in created["assignments"]] == [roster.alice.id]
    assert created["html_url"].endswith(f"/incidents/{created['id']}")
    kept = pd.incidents[created["id"]]
    assert kept.details == "Slack: https://example.slack.com/archives/C1"
    assert pd.calls("createIncident")[0].header("From") == pd.bot.email
    log = await asyncio.to_thread(client.list_all, f"/incidents/{created['id']}/log_entries")
    assert [e["type"] for e in log] == ["trigger_log_entry", "assign_log_entry"]
    assert log[0]["agent"]["id"] == pd.bot.id


async def test_direct_assignments_replace_the_escalation_but_not_together_with_a_policy(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    client = rest_client(pd)
    assign = [{"assignee": {"id": roster.erin.id, "type": "user_reference"}}]
    created = await asyncio.to_thread(
        client.rpost, "/incidents", json=_incident(roster.payments.id, assignments=assign)
    )
    assert created["assigned_via"] == "direct_assignment"
    assert [a["assignee"]["id"] for a in created["assignments"]] == [roster.erin.id]

    both = _incident(
        roster.payments.id,
        assignments=assign,
        escalation_policy={"id": roster.quiet_policy.id, "type": "escalation_policy_reference"},
    )
    answer = await asyncio.to_thread(client.post, "/incidents", json={"incident": both})
    assert answer.status_code == 400
    assert len(pd.incidents) == 1


async def test_a_second_open_incident_with_the_same_service_and_key_is_refused(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    client = rest_client(pd)
    first = await asyncio.to_thread(
        client.rpost, "/incidents", json=_incident(roster.payments.id, incident_key="same")
    )
    with pytest.raises(pagerduty.HttpError) as refused:
        await asyncio.to_thread(
            client.rpost, "/incidents", json=_incident(roster.payments.id, incident_key="same")
        )
    response = refused.value.response
    assert response is not None
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "Invalid Input Provided",
            "code": 2001,
            "errors": ["Open incident with matching dedup key already exists on this service"],
        }
    }
    # Another service may use the key; once the first is resolved, the key is free again.
    await asyncio.to_thread(
        client.rpost, "/incidents", json=_incident(roster.quiet.id, incident_key="same")
    )
    pd.resolve_as(roster.alice, first["id"])
    await asyncio.to_thread(
        client.rpost, "/incidents", json=_incident(roster.payments.id, incident_key="same")
    )
    assert len(pd.incidents_with_key("same")) == 3


async def test_listing_incidents_filters_by_key_status_service_and_creation_window(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    client = rest_client(pd)
    a = await asyncio.to_thread(
        client.rpost, "/incidents", json=_incident(roster.payments.id, incident_key="a")
    )
    b = await asyncio.to_thread(
        client.rpost, "/incidents", json=_incident(roster.quiet.id, incident_key="b")
    )
    pd.acknowledge_as(roster.alice, a["id"])

    async def ids(**params: object) -> list[str]:
        found = await asyncio.to_thread(client.rget, "/incidents", params=params)
        return [i["id"] for i in found]

    assert await ids(incident_key="a") == [a["id"]]
    assert await ids(**{"statuses[]": ["triggered"]}) == [b["id"]]
    assert await ids(**{"statuses[]": ["triggered", "acknowledged"]}) == [a["id"], b["id"]]
    assert await ids(**{"service_ids[]": [roster.quiet.id]}) == [b["id"]]
    later = (pd.now() + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await ids(since=later) == []
    assert await ids(date_range="all", incident_key="b") == [b["id"]]


async def test_a_responder_acknowledging_and_resolving_leaves_entries_authored_by_them(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    client = rest_client(pd)
    created = await asyncio.to_thread(
        client.rpost, "/incidents", json=_incident(roster.payments.id)
    )
    pd.acknowledge_as(roster.alice, created["id"])
    acked = await asyncio.to_thread(client.rget, f"/incidents/{created['id']}")
    assert acked["status"] == "acknowledged"
    assert [a["acknowledger"]["id"] for a in acked["acknowledgements"]] == [roster.alice.id]

    pd.resolve_as(roster.bob, created["id"], resolution="rolled back")
    resolved = await asyncio.to_thread(client.rget, f"/incidents/{created['id']}")
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] is not None
    assert resolved["assignments"] == [] and resolved["acknowledgements"] == []
    log = await asyncio.to_thread(client.list_all, f"/incidents/{created['id']}/log_entries")
    by_type = {e["type"]: e for e in log}
    assert by_type["acknowledge_log_entry"]["agent"]["id"] == roster.alice.id
    assert by_type["resolve_log_entry"]["agent"]["id"] == roster.bob.id
    assert by_type["resolve_log_entry"]["note"] == "rolled back"


async def test_the_bot_acknowledges_and_resolves_through_put_with_its_from_address(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    client = rest_client(pd)
    created = await asyncio.to_thread(
        client.rpost, "/incidents", json=_incident(roster.payments.id)
    )
    path = f"/incidents/{created['id']}"
    acked = await asyncio.to_thread(
        client.rput, path, json={"type": "incident_reference", "status": "acknowledged"}
    )
    assert acked["acknowledgements"][0]["acknowledger"]["id"] == pd.bot.id
    resolved = await asyncio.to_thread(
        client.rput, path, json={"type": "incident_reference", "status": "resolved"}
    )
    again = await asyncio.to_thread(
        client.rput, path, json={"type": "incident_reference", "status": "resolved"}
    )
    assert resolved["status"] == again["status"] == "resolved"
    assert [e.type for e in pd.incidents[created["id"]].log].count("resolve_log_entry") == 1


async def test_notes_are_kept_with_their_author_and_logged(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    client = rest_client(pd)
    created = await asyncio.to_thread(
        client.rpost, "/incidents", json=_incident(roster.payments.id)
    )
    path = f"/incidents/{created['id']}/notes"
    note = await asyncio.to_thread(client.rpost, path, json={"content": "Rolling back 4.2"})
    pd.add_note_as(roster.alice, created["id"], "Looking")
    notes = await asyncio.to_thread(client.rget, path)
    assert [(n["content"], n["user"]["id"]) for n in notes] == [
        ("Rolling back 4.2", pd.bot.id),
        ("Looking", roster.alice.id),
    ]
    assert note["id"] == notes[0]["id"]
    since = pd.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    log = await asyncio.to_thread(
        client.list_all, f"/incidents/{created['id']}/log_entries", params={"since": since}
    )
    assert [e["note"] for e in log if e["type"] == "annotate_log_entry"] == [
        "Rolling back 4.2",
        "Looking",
    ]


async def test_lists_page_by_offset_and_limit_until_more_is_false(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    for n in range(12):
        pd.add_user(f"Person {n:02d}", email=f"person{n:02d}@example.com")
    client = rest_client(pd)
    users = await asyncio.to_thread(
        client.list_all, "/users", params={"query": "person"}, page_size=5
    )
    assert [u["email"] for u in users] == [f"person{n:02d}@example.com" for n in range(12)]
    pages = pd.calls("listUsers")
    assert [dict(p.query)["offset"] for p in pages] == ["0", "5", "10"]
    first = await asyncio.to_thread(client.get, "/users", params={"limit": 5, "total": "true"})
    assert first.json()["more"] is True and first.json()["total"] == 18  # 12 + bot + roster


async def test_an_unknown_incident_answers_404_with_pagerdutys_error_shape(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    client = rest_client(pd)
    answer = await asyncio.to_thread(client.get, "/incidents/PNOPE00")
    assert answer.status_code == 404
    assert answer.json() == {"error": {"message": "Not Found", "code": 2100}}
