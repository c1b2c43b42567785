"""The sandbox site's own behaviour over plain HTTP, on Cloud (v3) and Data Center (v2): workflows,
comments, issue links, attachments, users, history metadata, custom fields, search, deletion, faults."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from sandbox.jira import SandboxJira
from sandbox.jira.values import adf_doc
from tests.sandbox.jira.conftest import Rest, auth_header

pytestmark = pytest.mark.asyncio


def text(rest: Rest, value: str) -> Any:
    """A rich-text value in the form the API version wants (ADF on v3, a string on v2)."""
    return value if rest.version == "2" else adf_doc(value)


def me(rest: Rest) -> dict[str, str]:
    bot = rest.sandbox.bot
    return {"name": bot.name} if rest.version == "2" else {"accountId": bot.account_id}


async def create(rest: Rest, summary: str = "Checkout down", **fields: Any) -> str:
    body = {
        "fields": {
            "project": {"key": "INC"},
            "issuetype": {"name": "Incident"},
            "summary": summary,
            **fields,
        }
    }
    status, created = await rest.call("POST", "issue", json=body)
    assert status == 201, created
    return str(created["key"])


async def transitions(rest: Rest, key: str) -> dict[str, str]:
    status, body = await rest.call("GET", f"issue/{key}/transitions")
    assert status == 200
    return {t["name"]: t["id"] for t in body["transitions"]}


async def test_the_incident_workflow_has_no_shortcut_from_to_do_to_done(rest: Rest) -> None:
    key = await create(rest)
    assert await transitions(rest, key) == {"Investigate": "11"}

    status, refused = await rest.call(
        "POST", f"issue/{key}/transitions", json={"transition": {"id": "51"}}
    )
    assert status == 400
    assert "not valid" in refused["errorMessages"][0]

    for name in ("Investigate", "Mitigate", "Start post-mortem", "Close"):
        step = (await transitions(rest, key))[name]
        status, _ = await rest.call(
            "POST", f"issue/{key}/transitions", json={"transition": {"id": step}}
        )
        assert status == 204
    assert rest.sandbox.status_name(rest.sandbox.issue(key)) == "Done"
    assert await transitions(rest, key) == {"Reopen": "61"}

    status, statuses = await rest.call("GET", "project/INC/statuses")
    assert status == 200
    assert [s["name"] for s in statuses[0]["statuses"]] == [
        "To Do",
        "In Progress",
        "Mitigated",
        "Post-mortem",
        "Done",
    ]
    status, task_statuses = await rest.call("GET", "project/TASK/statuses")
    assert [s["name"] for s in task_statuses[0]["statuses"]] == ["To Do", "In Progress", "Done"]


async def test_history_metadata_of_an_edit_and_a_transition_comes_back_in_the_changelog(
    rest: Rest,
) -> None:
    key = await create(rest)
    tag = {"type": "firefighter:sync", "generator": {"id": "firefighter"}}
    status, _ = await rest.call(
        "PUT", f"issue/{key}", json={"fields": {"summary": "Checkout slow"}, "historyMetadata": tag}
    )
    assert status == 204
    status, _ = await rest.call(
        "POST",
        f"issue/{key}/transitions",
        json={"transition": {"id": "11"}, "historyMetadata": tag},
    )
    assert status == 204
    alice = rest.sandbox.add_user("Alice Ops", email="alice@example.com")
    rest.sandbox.edit_as(alice, key, {"summary": "Checkout down again"})

    status, issue = await rest.call("GET", f"issue/{key}", params={"expand": "changelog"})
    histories = issue["changelog"]["histories"]  # most recent first
    assert [h.get("historyMetadata", {}).get("type") for h in histories] == [
        None,
        "firefighter:sync",
        "firefighter:sync",
    ]
    assert histories[0]["author"]["displayName"] == "Alice Ops"
    status, page = await rest.call("GET", f"issue/{key}/changelog")  # oldest first
    assert [v["items"][0]["field"] for v in page["values"]] == ["summary", "status", "summary"]


async def test_comments_take_adf_on_v3_and_strings_on_v2(rest: Rest) -> None:
    key = await create(rest)
    status, comment = await rest.call(
        "POST", f"issue/{key}/comment", json={"body": text(rest, "Rolled back")}
    )
    assert status == 201
    assert comment["body"] == text(rest, "Rolled back")
    status, page = await rest.call("GET", f"issue/{key}/comment")
    assert status == 200
    assert page["total"] == 1
    assert page["comments"][0]["author"]["displayName"] == "FireFighter Bot"

    wrong = adf_doc("x") if rest.version == "2" else "plain text"
    status, _ = await rest.call("POST", f"issue/{key}/comment", json={"body": wrong})
    assert status == 400
    assert [(v.operation, v.kind) for v in rest.sandbox.violations] == [("comment", "text-format")]
    rest.sandbox.violations.clear()


async def test_issue_links_show_on_both_issues(rest: Rest) -> None:
    incident = await create(rest)
    follow_up = await create(rest, "Add a canary")
    status, types = await rest.call("GET", "issueLinkType")
    assert "Relates" in {t["name"] for t in types["issueLinkTypes"]}

    status, body = await rest.call(
        "POST",
        "issueLink",
        json={
            "type": {"name": "Relates"},
            "inwardIssue": {"key": incident},
            "outwardIssue": {"key": follow_up},
        },
    )
    assert (status, body) == (201, None)
    assert rest.sandbox.links_of(incident) == [(incident, "Relates", follow_up)]
    _, on_incident = await rest.call("GET", f"issue/{incident}", params={"fields": "issuelinks"})
    _, on_follow_up = await rest.call("GET", f"issue/{follow_up}", params={"fields": "issuelinks"})
    assert on_incident["fields"]["issuelinks"][0]["outwardIssue"]["key"] == follow_up
    assert on_follow_up["fields"]["issuelinks"][0]["inwardIssue"]["key"] == incident

    status, _ = await rest.call(
        "POST",
        "issueLink",
        json={
            "type": {"name": "Causes"},
            "inwardIssue": {"key": incident},
            "outwardIssue": {"key": follow_up},
        },
    )
    assert status == 404


async def test_an_attachment_needs_the_no_check_header_and_is_stored(rest: Rest) -> None:
    key = await create(rest)

    def form() -> aiohttp.FormData:
        data = aiohttp.FormData()
        data.add_field(
            "file", b"line 1\nline 2\n", filename="timeline.txt", content_type="text/plain"
        )
        return data

    status, _ = await rest.call("POST", f"issue/{key}/attachments", data=form())
    assert status == 403
    status, added = await rest.call(
        "POST", f"issue/{key}/attachments", data=form(), headers={"X-Atlassian-Token": "no-check"}
    )
    assert status == 200
    assert [(a["filename"], a["size"]) for a in added] == [("timeline.txt", 14)]
    stored = rest.sandbox.issue(key).attachments
    assert [(a.filename, a.content) for a in stored] == [("timeline.txt", b"line 1\nline 2\n")]
    _, issue = await rest.call("GET", f"issue/{key}", params={"fields": "attachment"})
    assert issue["fields"]["attachment"][0]["mimeType"] == "text/plain"


async def test_user_search_answers_each_deployments_identity(rest: Rest) -> None:
    carol = rest.sandbox.add_user("Carol Oncall", email="carol@example.com")
    if rest.version == "3":
        status, users = await rest.call("GET", "user/search", params={"query": "carol@example.com"})
        assert [u["accountId"] for u in users] == [carol.account_id]
        assert users[0]["emailAddress"] == "carol@example.com"
        assert "name" not in users[0]
    else:
        status, users = await rest.call(
            "GET", "user/search", params={"username": "carol@example.com"}
        )
        assert [(u["name"], u["key"]) for u in users] == [("carol", "carol")]
        status, _ = await rest.call("GET", "user/search", params={"query": "carol"})
        assert status == 400  # Data Center wants `username`
    status, myself = await rest.call("GET", "myself")
    assert myself["displayName"] == "FireFighter Bot"


async def test_a_hidden_email_on_cloud_only_matches_exactly() -> None:
    async with SandboxJira(mode="cloud") as sandbox:
        dave = sandbox.add_user("Dave", email="dave@example.com", email_visible=False)
        async with aiohttp.ClientSession(headers=auth_header(sandbox)) as http:
            rest = Rest(sandbox, http)
            _, exact = await rest.call("GET", "user/search", params={"query": "dave@example.com"})
            _, prefix = await rest.call("GET", "user/search", params={"query": "dave@"})
        assert [u["accountId"] for u in exact] == [dave.account_id]
        assert "emailAddress" not in exact[0]
        assert prefix == []
        sandbox.assert_no_violations()


async def test_custom_fields_take_and_answer_their_kinds(rest: Rest) -> None:
    sandbox = rest.sandbox
    ids = {
        name: sandbox.field_id(name)
        for name in (
            "Incident priority",
            "Impact",
            "Customers affected",
            "Incident commander",
            "Affected services",
        )
    }
    key = await create(
        rest,
        **{
            ids["Incident priority"]: {"value": "P2"},
            ids["Impact"]: text(rest, "EU customers cannot pay"),
            ids["Customers affected"]: 1200,
            ids["Incident commander"]: me(rest),
            ids["Affected services"]: [{"value": "checkout"}, {"value": "payments"}],
            "assignee": me(rest),
            "duedate": "2026-03-04",
        },
    )
    _, issue = await rest.call("GET", f"issue/{key}")
    fields = issue["fields"]
    assert fields[ids["Incident priority"]]["value"] == "P2"
    assert fields[ids["Impact"]] == text(rest, "EU customers cannot pay")
    assert fields[ids["Customers affected"]] == 1200
    assert fields[ids["Incident commander"]]["displayName"] == "FireFighter Bot"
    assert [o["value"] for o in fields[ids["Affected services"]]] == ["checkout", "payments"]
    assert fields["duedate"] == "2026-03-04"

    status, refused = await rest.call(
        "PUT", f"issue/{key}", json={"fields": {ids["Incident priority"]: {"value": "P9"}}}
    )
    assert status == 400
    assert refused["errors"] == {ids["Incident priority"]: "Option value 'P9' is not valid"}
    status, refused = await rest.call(
        "PUT", f"issue/{key}", json={"fields": {ids["Customers affected"]: "many"}}
    )
    assert (status, list(refused["errors"])) == (400, [ids["Customers affected"]])
    wrong_user = {"accountId": sandbox.bot.account_id} if rest.version == "2" else {"name": "x"}
    status, _ = await rest.call("PUT", f"issue/{key}", json={"fields": {"assignee": wrong_user}})
    assert status == 400

    status, _ = await rest.call(
        "PUT", f"issue/{key}", json={"fields": {ids["Incident priority"]: None, "assignee": None}}
    )
    assert status == 204
    assert sandbox.issue(key).values[ids["Incident priority"]] is None
    history = sandbox.issue(key).histories[-1]
    assert {(i.field, i.from_string, i.to_string) for i in history.items} == {
        ("Incident priority", "P2", None),
        ("assignee", "FireFighter Bot", None),
    }


async def test_search_by_label_and_time_pages_with_fields_and_changelog() -> None:
    now = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)

    def clock() -> datetime:
        return now

    async with SandboxJira(mode="cloud", clock=clock, changelog_limit=2) as sandbox:
        async with aiohttp.ClientSession(headers=auth_header(sandbox)) as http:
            rest = Rest(sandbox, http)
            first = await create(rest, labels=["firefighter", "ff-1"])
            await create(rest, labels=["other"])
            third = await create(rest, labels=["firefighter"])
            for n in range(3):
                sandbox.edit_as(sandbox.bot, first, {"summary": f"edit {n}"})
            jql = 'labels in ("firefighter", "x") AND updated >= "2026/03/01 10:00" ORDER BY updated ASC'
            status, page = await rest.call(
                "POST",
                "search/jql",
                json={
                    "jql": jql,
                    "fields": ["summary", "labels"],
                    "expand": "changelog",
                    "maxResults": 1,
                },
            )
            assert status == 200
            assert [i["key"] for i in page["issues"]] == [third]
            status, last = await rest.call(
                "POST",
                "search/jql",
                json={
                    "jql": jql,
                    "fields": ["summary", "labels"],
                    "expand": "changelog",
                    "maxResults": 1,
                    "nextPageToken": page["nextPageToken"],
                },
            )
            assert [i["key"] for i in last["issues"]] == [first]
            assert "nextPageToken" not in last and last["isLast"]
            changelog = last["issues"][0]["changelog"]
            assert (changelog["total"], changelog["maxResults"]) == (3, 2)  # truncated on Cloud
            assert set(last["issues"][0]["fields"]) == {"summary", "labels"}

            _, by_label = await rest.call("GET", "search/jql", params={"jql": 'labels = "ff-1"'})
            assert by_label["issues"] == [
                {
                    k: v
                    for k, v in by_label["issues"][0].items()
                    if k in {"expand", "id", "key", "self"}
                }
            ]
            _, navigable = await rest.call(
                "GET", "search/jql", params={"jql": f"key = {first}", "fields": "*navigable"}
            )
            _, everything = await rest.call(
                "GET", "search/jql", params={"jql": f"key = {first}", "fields": "*all"}
            )
            assert "comment" not in navigable["issues"][0]["fields"]
            assert "comment" in everything["issues"][0]["fields"]
            _, later = await rest.call(
                "GET",
                "search/jql",
                params={"jql": 'labels = "firefighter" AND updated >= "2026/03/01 10:01"'},
            )
            assert later["issues"] == []
        sandbox.assert_no_violations()


async def test_data_center_searches_by_start_at_with_the_whole_changelog() -> None:
    async with SandboxJira(mode="datacenter", changelog_limit=1) as sandbox:
        async with aiohttp.ClientSession(headers=auth_header(sandbox)) as http:
            rest = Rest(sandbox, http)
            key = await create(rest, labels=["firefighter"])
            sandbox.edit_as(sandbox.bot, key, {"summary": "one"})
            sandbox.edit_as(sandbox.bot, key, {"summary": "two"})
            status, page = await rest.call(
                "GET",
                "search",
                params={
                    "jql": 'labels in ("firefighter")',
                    "expand": "changelog",
                    "fields": "summary",
                },
            )
            assert status == 200
            assert page["total"] == 1
            assert page["issues"][0]["changelog"]["total"] == 2
            assert len(page["issues"][0]["changelog"]["histories"]) == 2
            status, _ = await rest.call("GET", "search/jql", params={"jql": "project = INC"})
            assert status == 404
        assert [(v.operation, v.kind) for v in sandbox.violations] == [
            ("searchAndReconsileIssuesUsingJql", "unknown-path")
        ]


async def test_a_deleted_issue_answers_404(rest: Rest) -> None:
    key = await create(rest)
    other = await create(rest, "Other")
    status, _ = await rest.call("DELETE", f"issue/{key}")
    assert status == 204
    status, _ = await rest.call("GET", f"issue/{key}")
    assert status == 404
    rest.sandbox.delete_as(rest.sandbox.bot, other)
    status, _ = await rest.call("PUT", f"issue/{other}", json={"fields": {"summary": "x"}})
    assert status == 404


async def test_a_rate_limit_storm_a_slow_answer_and_an_outage(rest: Rest) -> None:
    rest.sandbox.inject_rate_limit(r"/myself$", retry_after=7, times=2)
    for _ in range(2):
        async with rest.http.get(rest.url("myself")) as response:
            assert response.status == 429
            assert response.headers["Retry-After"] == "7"
    status, _ = await rest.call("GET", "myself")
    assert status == 200

    rest.sandbox.inject_delay(r"/myself$", 0.3)
    started = time.monotonic()
    status, _ = await rest.call("GET", "myself")
    assert status == 200 and time.monotonic() - started >= 0.3

    rest.sandbox.start_outage(502)
    assert (await rest.call("GET", "myself"))[0] == 502
    rest.sandbox.end_outage()
    assert (await rest.call("GET", "myself"))[0] == 200


async def test_deprecated_but_live_operations_answer_and_are_listed(cloud: SandboxJira) -> None:
    async with aiohttp.ClientSession(headers=auth_header(cloud)) as http:
        status, priorities = await Rest(cloud, http).call("GET", "priority")
    assert status == 200
    assert [p["name"] for p in priorities] == ["Highest", "High", "Medium", "Low"]
    assert cloud.deprecated_calls == ["getPriorities"]


async def test_the_changelog_clock_keeps_milliseconds_and_utc_offsets(rest: Rest) -> None:
    key = await create(rest)
    _, issue = await rest.call("GET", f"issue/{key}", params={"fields": "updated,created"})
    updated = issue["fields"]["updated"]
    assert updated.endswith("+0000") and len(updated) == 28
    parsed = datetime.strptime(updated, "%Y-%m-%dT%H:%M:%S.%f%z")
    assert abs(parsed - datetime.now(UTC)) < timedelta(minutes=1)


async def test_components_must_be_the_projects_own(rest: Rest) -> None:
    rest.sandbox.add_component("INC", "Payments")
    key = await create(rest, components=[{"name": "Payments"}])
    _, issue = await rest.call("GET", f"issue/{key}", params={"fields": "components"})
    assert [c["name"] for c in issue["fields"]["components"]] == ["Payments"]

    status, refused = await rest.call(
        "PUT", f"issue/{key}", json={"fields": {"components": [{"name": "Search"}]}}
    )
    assert (status, refused["errors"]) == (
        400,
        {"components": "Component name 'Search' is not valid"},
    )
    status, _ = await rest.call("PUT", f"issue/{key}", json={"fields": {"components": []}})
    assert status == 204
    assert rest.sandbox.issue(key).histories[-1].items[0].from_string == "Payments"
