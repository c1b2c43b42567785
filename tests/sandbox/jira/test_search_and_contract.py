"""Search (Cloud `/search/jql` with `nextPageToken`, Data Center `/search` with `startAt`), the
contract checks, and injected faults."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from jira import JIRA

from sandbox.jira import SandboxJira
from tests.sandbox.jira.conftest import cloud_client, datacenter_client

pytestmark = pytest.mark.asyncio


class StepClock:
    """An injected clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 10, 0, 0, 250_000, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _fields(summary: str) -> dict[str, object]:
    return {"project": {"key": "INC"}, "issuetype": {"name": "Task"}, "summary": summary}


def _basic(sandbox: SandboxJira) -> dict[str, str]:
    raw = f"{sandbox.bot.email}:{sandbox.bot.api_token}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def test_cloud_search_filters_by_the_jql_subset_and_pages_by_token() -> None:
    clock = StepClock()
    async with SandboxJira(mode="cloud", clock=clock) as sandbox:
        client = await cloud_client(sandbox)
        for n in range(5):
            await asyncio.to_thread(client.create_issue, fields=_fields(f"issue {n}"))
            clock.now += timedelta(minutes=1)
        sandbox.edit_as(sandbox.bot, "INC-2", {"summary": "touched"})  # updated at 10:05:00.250

        jql = 'project = INC AND updated >= "2026-03-01 10:02" ORDER BY updated DESC'
        first = await asyncio.to_thread(client.search_issues, jql, maxResults=2)
        assert [i.key for i in first] == ["INC-2", "INC-5"]
        assert first.nextPageToken
        second = await asyncio.to_thread(
            client.enhanced_search_issues, jql, maxResults=2, nextPageToken=first.nextPageToken
        )
        assert [i.key for i in second] == ["INC-4", "INC-3"]
        assert second.nextPageToken is None

        by_key = await asyncio.to_thread(
            client.search_issues, "key in (INC-1, INC-3) ORDER BY updated", maxResults=10
        )
        assert [i.key for i in by_key] == ["INC-1", "INC-3"]
        assert sandbox.calls("searchAndReconsileIssuesUsingJql")[0].path == "/rest/api/2/search/jql"
        updated = sandbox.issue("INC-2").updated
        assert updated.microsecond == 250_000  # milliseconds kept; JQL compares whole minutes
        sandbox.assert_no_violations()


async def test_cloud_search_jql_by_post_on_v3_answers_ids_only_by_default(
    cloud: SandboxJira, jira_cloud: JIRA
) -> None:
    created = await asyncio.to_thread(jira_cloud.create_issue, fields=_fields("one"))
    async with (
        aiohttp.ClientSession(headers=_basic(cloud)) as http,
        http.post(
            f"{cloud.base_url}/rest/api/3/search/jql",
            json={"jql": "project = INC", "maxResults": 5},
        ) as response,
    ):
        assert response.status == 200
        assert await response.json() == {
            "issues": [
                {
                    "expand": response_expand(),
                    "id": created.id,
                    "key": "INC-1",
                    "self": f"{cloud.base_url}/rest/api/3/issue/{created.id}",
                }
            ],
            "isLast": True,
        }


def response_expand() -> str:
    return "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"


async def test_an_unbounded_query_and_unsupported_jql_are_refused_with_400(
    cloud: SandboxJira,
) -> None:
    async with aiohttp.ClientSession(headers=_basic(cloud)) as http:
        for jql in ("ORDER BY updated", "assignee = currentUser()"):
            async with http.get(
                f"{cloud.base_url}/rest/api/3/search/jql", params={"jql": jql}
            ) as response:
                assert response.status == 400
                assert (await response.json())["errorMessages"]


async def test_the_old_cloud_search_endpoint_is_gone_and_recorded_as_deprecated(
    cloud: SandboxJira,
) -> None:
    async with (
        aiohttp.ClientSession(headers=_basic(cloud)) as http,
        http.get(
            f"{cloud.base_url}/rest/api/3/search", params={"jql": "project = INC"}
        ) as response,
    ):
        assert response.status == 410
    assert [(v.operation, v.kind) for v in cloud.violations] == [
        ("searchForIssuesUsingJql", "deprecated")
    ]
    cloud.violations.clear()


async def test_data_center_search_pages_by_start_at(datacenter: SandboxJira) -> None:
    client = await datacenter_client(datacenter)
    for n in range(3):
        await asyncio.to_thread(client.create_issue, fields=_fields(f"dc {n}"))
    page = await asyncio.to_thread(
        client.search_issues, "project = INC ORDER BY updated", startAt=1, maxResults=1
    )
    assert [i.key for i in page] == ["INC-2"]
    assert page.total == 3
    assert datacenter.calls("searchForIssuesUsingJql")[0].path == "/rest/api/2/search"


async def test_a_hand_made_bad_request_is_recorded_as_a_contract_violation(
    cloud: SandboxJira,
) -> None:
    async with aiohttp.ClientSession(headers=_basic(cloud)) as http:
        async with http.post(
            f"{cloud.base_url}/rest/api/3/search/jql",
            json={"jql": "project = INC", "maxResults": "ten"},
        ) as response:
            assert response.status == 400
        async with http.get(
            f"{cloud.base_url}/rest/applinks/latest/listApplicationlinks"
        ) as response:
            assert response.status == 404
        async with http.post(
            f"{cloud.base_url}/rest/api/3/issue",
            json={"fields": {**_fields("plain"), "description": "not ADF"}},
        ) as response:
            assert response.status == 400
    kinds = [(v.operation, v.kind) for v in cloud.violations]
    assert kinds == [
        ("searchAndReconsileIssuesUsingJqlPost", "request"),
        ("GET /rest/applinks/latest/listApplicationlinks", "unknown-path"),
        ("fields", "text-format"),
    ]
    assert "'ten' is not of type 'integer'" in cloud.violations[0].detail
    with pytest.raises(AssertionError, match="3 Jira contract violation"):
        cloud.assert_no_violations()
    cloud.violations.clear()


async def test_a_429_with_retry_after_is_honoured_by_the_library(cloud: SandboxJira) -> None:
    client = await cloud_client(cloud, max_retries=1)
    cloud.inject_status(r"/myself$", 429, retry_after=1)
    me = await asyncio.to_thread(client.myself)
    assert me["accountId"] == cloud.bot.account_id
    statuses = [r.status for r in cloud.requests if r.path.endswith("/myself")]
    assert statuses == [429, 200]


async def test_5xx_and_an_outage_are_answered_until_lifted(cloud: SandboxJira) -> None:
    cloud.inject_status(r"/serverInfo$", 502, times=1)
    async with aiohttp.ClientSession(headers=_basic(cloud)) as http:
        url = f"{cloud.base_url}/rest/api/3/serverInfo"
        async with http.get(url) as response:
            assert response.status == 502
        cloud.start_outage()
        async with http.get(url) as response:
            assert response.status == 503
        cloud.end_outage()
        async with http.get(url) as response:
            assert response.status == 200
            assert (await response.json())["deploymentType"] == "Cloud"
