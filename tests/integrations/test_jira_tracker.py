"""`JiraTracker` (atlassian-python-api in a thread pool) against the spec-checked sandbox Jira, on Cloud
(REST v3) and Data Center (REST v2). Every test also proves each request met Jira's contract."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.ports import Document, Link, TrackerError
from integrations.jira import SYNC_TYPE, JiraTracker
from sandbox.jira import SandboxJira
from sandbox.jira.catalog import DONE, IN_PROGRESS, TO_DO
from sandbox.jira.state import Transition, Workflow
from tests.integrations.conftest import jira_tracker

pytestmark = pytest.mark.asyncio

STATUS_PAGE = Link("status page", "https://status.example.com/incidents/42")


class StepClock:
    """The sandbox's clock, moved by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def open_incident(tracker: JiraTracker, summary: str = "Checkout down") -> str:
    marker = "ff-" + summary.split(maxsplit=1)[0].lower()
    ref = await tracker.create_issue("INC", "Incident", {"summary": summary}, marker=marker)
    return ref.key


async def test_an_incident_is_created_with_every_kind_of_field(
    jira_site: SandboxJira, tracker: JiraTracker
) -> None:
    me = await tracker.account_id()
    jira_site.add_component("INC", "Payments")
    ids = {
        name: jira_site.field_id(name)
        for name in (
            "Severity",
            "Slack channel",
            "Impact",
            "Customers affected",
            "Incident commander",
            "Affected services",
        )
    }
    ref = await tracker.create_issue(
        "INC",
        "Incident",
        {
            "summary": "Checkout down",
            "description": Document.of("Payments fail [EU]", ("See the ", STATUS_PAGE, ".")),
            "priority": "High",
            "labels": ("sev2",),
            "assignee": me,
            "duedate": "2026-03-04",
            "components": ("Payments",),
            ids["Severity"]: "SEV2",
            ids["Slack channel"]: "#inc-42",
            ids["Impact"]: "EU cards refused - wallets work\n\nSince 10:00",
            ids["Customers affected"]: 1200.0,
            ids["Incident commander"]: me,
            ids["Affected services"]: ("checkout", "payments"),
        },
        marker="ff-incident-1",
    )

    assert ref.key == "INC-1"
    assert ref.url == f"{jira_site.base_url}/browse/INC-1"
    stored = jira_site.issue("INC-1").values
    assert stored["labels"] == ["sev2", "firefighter", "ff-incident-1"]
    assert stored[ids["Severity"]]["value"] == "SEV2"
    assert stored[ids["Customers affected"]] == 1200.0
    assert [o["value"] for o in stored[ids["Affected services"]]] == ["checkout", "payments"]
    assert stored["assignee"] == stored[ids["Incident commander"]] == jira_site.bot.account_id
    assert jira_site.calls("createIssue")[0].body["fields"]["components"] == [{"name": "Payments"}]
    if jira_site.mode == "cloud":  # ADF (checked against the ADF schema by the sandbox)
        link = stored["description"]["content"][1]["content"][1]
        assert link["marks"] == [{"type": "link", "attrs": {"href": STATUS_PAGE.url}}]
        assert len(stored[ids["Impact"]]["content"]) == 2
    else:  # wiki markup
        assert stored["description"] == (
            "Payments fail \\[EU\\]\n\nSee the [status page|https://status.example.com/incidents/42]."
        )
        assert stored[ids["Impact"]] == "EU cards refused - wallets work\n\nSince 10:00"

    snapshot = await tracker.issue("INC-1")
    assert snapshot is not None
    assert (snapshot.project, snapshot.issue_type, snapshot.summary) == (
        "INC",
        "Incident",
        "Checkout down",
    )
    assert (snapshot.status, snapshot.status_category, snapshot.priority) == (
        "To Do",
        "new",
        "High",
    )
    assert snapshot.assignee == me
    assert snapshot.assignee_email == jira_site.bot.email
    assert snapshot.labels == ("sev2", "firefighter", "ff-incident-1")
    assert snapshot.due == date(2026, 3, 4)
    assert snapshot.updated.tzinfo is not None and snapshot.updated.utcoffset() == timedelta(0)


async def test_a_custom_option_field_can_carry_the_priority(jira_site: SandboxJira) -> None:
    field = jira_site.field_id("Incident priority")
    tracker = jira_tracker(jira_site, priority_field=field)
    try:
        ref = await tracker.create_issue(
            "INC", "Incident", {"summary": "DB slow", "priority": "P2"}, marker="ff-p2"
        )
        assert jira_site.issue(ref.key).values[field]["value"] == "P2"
        await tracker.update_issue(ref.key, {"priority": "P1"})
        snapshot = await tracker.issue(ref.key)
        assert snapshot is not None and snapshot.priority == "P1"
        assert jira_site.calls("editIssue")[-1].body["fields"] == {field: {"value": "P1"}}
    finally:
        await tracker.close()


async def test_find_by_label_recovers_an_issue_whose_answer_was_lost(tracker: JiraTracker) -> None:
    await open_incident(tracker, "Other incident")
    ref = await tracker.create_issue("INC", "Incident", {"summary": "Lost"}, marker="ff-intent-7")

    assert await tracker.find_by_label("ff-intent-7") == ref
    assert await tracker.find_by_label("ff-intent-8") is None


async def test_an_update_sends_only_its_fields_and_tags_the_write(
    jira_site: SandboxJira, tracker: JiraTracker
) -> None:
    key = await open_incident(tracker)
    await tracker.update_issue(key, {"summary": "Checkout slow", "labels": ("sev3",)})

    sent = jira_site.calls("editIssue")[-1].body
    assert sent["fields"] == {"summary": "Checkout slow", "labels": ["sev3", "firefighter"]}
    assert sent["historyMetadata"]["type"] == SYNC_TYPE
    recorded = jira_site.issue(key).histories[-1]
    assert recorded.metadata is not None and recorded.metadata["type"] == SYNC_TYPE
    assert {item.field_id for item in recorded.items} == {"summary", "labels"}

    snapshot = await tracker.issue(key, changes=True)
    assert snapshot is not None
    assert [c.generator for c in snapshot.changes] == [SYNC_TYPE]
    await tracker.update_issue(key, {})  # nothing to say: nothing sent
    assert len(jira_site.calls("editIssue")) == 1


async def test_a_transition_walks_the_workflow_step_by_step(
    jira_site: SandboxJira, tracker: JiraTracker
) -> None:
    key = await open_incident(tracker)

    assert await tracker.transition_to(key, "done") == (
        "In Progress",
        "Mitigated",
        "Post-mortem",
        "Done",
    )
    assert jira_site.status_name(jira_site.issue(key)) == "Done"
    assert all(
        call.body["historyMetadata"]["type"] == SYNC_TYPE
        for call in jira_site.calls("doTransition")
    )
    assert await tracker.transition_to(key, "Done") == ()
    # Back from Done: Reopen to To Do, then forward again (never through a status twice).
    assert await tracker.transition_to(key, "Mitigated") == ("To Do", "In Progress", "Mitigated")


async def test_a_walk_prefers_the_status_nearest_the_target_over_going_back(
    jira_site: SandboxJira, tracker: JiraTracker
) -> None:
    alice = jira_site.add_user("Alice Ops", email="alice@example.com")
    key = await open_incident(tracker)
    jira_site.transition_as(alice, key, "Investigate")
    # From In Progress: Mitigate (in progress) or Reopen (to do); Done is "done".
    assert await tracker.transition_to(key, "Mitigated") == ("Mitigated",)
    # From Mitigated: "Back to investigation" and "Start post-mortem" lead to statuses of the
    # same category (and come first in Jira's order); Post-mortem is nearer Done.
    assert await tracker.transition_to(key, "Done") == ("Post-mortem", "Done")

    other = await open_incident(tracker, "Search slow")
    jira_site.transition_as(alice, other, "Investigate")
    assert await tracker.transition_to(other, "Done") == ("Mitigated", "Post-mortem", "Done")


async def test_no_path_raises_no_transition_naming_where_it_is_stuck() -> None:
    dead_end = Workflow(
        "One-way",
        (TO_DO, IN_PROGRESS, DONE),
        (
            Transition("11", "Start", IN_PROGRESS.id, frozenset({TO_DO.id})),
            Transition("21", "Close", DONE.id, frozenset({TO_DO.id, IN_PROGRESS.id})),
        ),
    )
    async with SandboxJira(mode="cloud", workflow=dead_end) as sandbox:
        tracker = jira_tracker(sandbox)
        try:
            key = await open_incident(tracker)
            await tracker.transition_to(key, "Done")
            with pytest.raises(TrackerError) as stuck:
                await tracker.transition_to(key, "In Progress")
            assert stuck.value.code == "no_transition"
            assert not stuck.value.transient
            assert "stuck in 'Done'" in stuck.value.detail
            assert "transitions available: none" in stuck.value.detail

            with pytest.raises(TrackerError) as unknown:
                await tracker.transition_to(key, "Mitigated")
            assert unknown.value.code == "no_transition"
            assert "has no status 'Mitigated'" in unknown.value.detail
        finally:
            await tracker.close()
        sandbox.assert_no_violations()


@pytest.mark.parametrize("mode", ["cloud", "datacenter"])
async def test_search_reads_every_page_with_changelogs_in_one_request_per_page(mode: str) -> None:
    clock = StepClock(datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC))
    async with SandboxJira(mode=mode, clock=clock, changelog_limit=2) as sandbox:  # type: ignore[arg-type]
        tracker = jira_tracker(sandbox)
        alice = sandbox.add_user("Alice Ops", email="alice@example.com")
        try:
            early = await open_incident(tracker, "Early one")
            clock.now = datetime(2026, 3, 1, 10, 7, 10, tzinfo=UTC)
            keys = [await open_incident(tracker, f"Incident {n}") for n in range(4)]
            await tracker.create_issue("INC", "Task", {"summary": "not ours"}, marker="x")
            sandbox.issue("INC-6").values["labels"] = ["other"]
            for n in range(3):  # one issue with more history than Cloud keeps in a search
                await tracker.update_issue(keys[0], {"summary": f"Incident 0, take {n}"})
            sandbox.edit_as(alice, keys[2], {"summary": "Incident 2 (edited)"})
            since = datetime(2026, 3, 1, 10, 7, 45, tzinfo=UTC)  # floored to 10:07
            first_search = len(sandbox.requests)

            found = await tracker.search_updated(since, labels=["firefighter"], page_size=2)

            assert [s.ref.key for s in found] == [keys[1], keys[3], keys[0], keys[2]]
            assert early not in {s.ref.key for s in found}
            made = [r.operation_id for r in sandbox.requests[first_search:]]
            search_op = (
                "searchAndReconsileIssuesUsingJqlPost"
                if mode == "cloud"
                else "searchForIssuesUsingJql"
            )
            if mode == "cloud":  # 2 pages, and the one truncated changelog read on its own
                assert made == [search_op, search_op, "getChangeLogs"]
                assert sandbox.calls("getChangeLogs")[0].path.endswith(
                    f"/issue/{keys[0]}/changelog"
                )
            else:
                assert made == [search_op, search_op]
            jql = sandbox.requests[first_search].query or ()
            sent = dict(jql) if jql else sandbox.requests[first_search].body
            assert sent["jql"] == (
                'labels in ("firefighter") AND updated >= "2026/03/01 10:07" ORDER BY updated ASC'
            )
            busy = found[2]
            assert [c.items[0].to_string for c in busy.changes] == [
                "Incident 0, take 0",
                "Incident 0, take 1",
                "Incident 0, take 2",
            ]
            assert busy.changes == tuple(sorted(busy.changes, key=lambda c: c.created))
        finally:
            await tracker.close()
        sandbox.assert_no_violations()


async def test_the_bots_own_edits_and_a_humans_edit_are_told_apart(
    jira_site: SandboxJira, tracker: JiraTracker
) -> None:
    alice = jira_site.add_user("Alice Ops", email="alice@example.com")
    key = await open_incident(tracker)
    await tracker.transition_to(key, "In Progress")
    jira_site.edit_as(alice, key, {"summary": "Checkout down in EU"})

    snapshot = await tracker.issue(key, changes=True)

    assert snapshot is not None
    bot, human = snapshot.changes
    assert (bot.author, bot.generator) == (await tracker.account_id(), SYNC_TYPE)
    assert [(i.field, i.from_string, i.to_string) for i in bot.items] == [
        ("status", "To Do", "In Progress")
    ]
    expected_author = alice.account_id if jira_site.mode == "cloud" else alice.name
    assert (human.author, human.author_name, human.generator) == (
        expected_author,
        "Alice Ops",
        None,
    )
    assert human.created >= bot.created


async def test_a_deleted_issue_reads_as_none_and_an_update_is_not_found(
    jira_site: SandboxJira, tracker: JiraTracker
) -> None:
    key = await open_incident(tracker)
    jira_site.delete_as(jira_site.add_user("Admin", email="admin@example.com"), key)

    assert await tracker.issue(key) is None
    with pytest.raises(TrackerError) as error:
        await tracker.update_issue(key, {"summary": "x"})
    assert (error.value.code, error.value.transient) == ("not_found", False)


async def test_a_refused_value_is_invalid_with_jiras_field_errors(
    jira_site: SandboxJira, tracker: JiraTracker
) -> None:
    key = await open_incident(tracker)
    severity = jira_site.field_id("Severity")

    with pytest.raises(TrackerError) as error:
        await tracker.update_issue(key, {severity: "SEV9"})

    assert (error.value.code, error.value.transient) == ("invalid", False)
    assert error.value.field_errors == {severity: "Option value 'SEV9' is not valid"}


async def test_a_429_storm_comes_back_at_once_as_ratelimited(
    jira_site: SandboxJira, tracker: JiraTracker
) -> None:
    jira_site.inject_rate_limit(r"/myself$", retry_after=30, times=5)

    for _ in range(2):
        started = time.monotonic()
        with pytest.raises(TrackerError) as error:
            await tracker.account_id()
        assert time.monotonic() - started < 2.0  # the library did not sleep Retry-After
        assert (error.value.code, error.value.transient) == ("ratelimited", True)
        assert error.value.retry_after == 30.0
    assert [r.status for r in jira_site.requests] == [429, 429]  # no retry behind our back


async def test_an_outage_and_a_5xx_are_unavailable(
    jira_site: SandboxJira, tracker: JiraTracker
) -> None:
    jira_site.start_outage()
    with pytest.raises(TrackerError) as outage:
        await tracker.fields()
    assert (outage.value.code, outage.value.transient) == ("unavailable", True)
    jira_site.end_outage()
    jira_site.inject_server_error(r"/field$", status=502)
    with pytest.raises(TrackerError) as bad_gateway:
        await tracker.fields()
    assert bad_gateway.value.code == "unavailable"
    assert "summary" in await tracker.fields()


async def test_a_slow_answer_past_the_read_timeout_is_a_network_error(
    cloud_site: SandboxJira,
) -> None:
    tracker = jira_tracker(cloud_site, timeout=(1.0, 0.2))
    cloud_site.inject_delay(r"/myself$", 1.0)
    try:
        started = time.monotonic()
        with pytest.raises(TrackerError) as error:
            await tracker.account_id()
        assert time.monotonic() - started < 0.9
        assert (error.value.code, error.value.transient) == ("network", True)
    finally:
        await tracker.close()


async def test_a_refused_connection_is_a_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tracker = JiraTracker(f"http://127.0.0.1:{port}", user="bot@example.com", token="t", cloud=True)
    try:
        with pytest.raises(TrackerError) as error:
            await tracker.account_id()
        assert (error.value.code, error.value.transient) == ("network", True)
    finally:
        await tracker.close()


async def test_the_token_shows_in_no_error_and_no_log(
    jira_site: SandboxJira, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "s3cret-t0ken-value"
    good = jira_tracker(jira_site)
    bad = JiraTracker(
        jira_site.base_url,
        user=jira_site.bot.email,
        token=secret,
        cloud=jira_site.mode == "cloud",
    )
    try:
        with pytest.raises(TrackerError) as refused:
            await bad.account_id()
        assert refused.value.code == "forbidden"
        with pytest.raises(TrackerError) as invalid:
            await good.create_issue("INC", "Incident", {"summary": ""}, marker="ff-x")
        for error in (refused.value, invalid.value):
            assert secret not in str(error) and jira_site.bot.api_token not in str(error)
        assert secret not in repr(bad)
        assert secret not in caplog.text and jira_site.bot.api_token not in caplog.text
    finally:
        await bad.close()
        await good.close()


async def test_attachments_comments_and_links_land_on_the_issue(
    jira_site: SandboxJira, tracker: JiraTracker
) -> None:
    incident = await open_incident(tracker)
    follow_up = (
        await tracker.create_issue("TASK", "Task", {"summary": "Add a canary"}, marker="ff-fu-1")
    ).key

    await tracker.attach(incident, "timeline.csv", b"at,what\n10:00,alert\n")
    await tracker.add_comment(incident, Document.of(("Rolled back; see ", STATUS_PAGE)))
    await tracker.link_issues(incident, follow_up)
    await tracker.add_remote_link(incident, "https://slack.example/archives/C1", "#inc-42")
    await tracker.add_remote_link(incident, "https://slack.example/archives/C1", "#inc-42-checkout")

    stored = jira_site.issue(incident)
    assert [(a.filename, a.size) for a in stored.attachments] == [("timeline.csv", 20)]
    body = stored.comments[0].body
    if jira_site.mode == "cloud":
        assert body["content"][0]["content"][1]["marks"][0]["attrs"]["href"] == STATUS_PAGE.url
    else:
        assert body == f"Rolled back; see [status page|{STATUS_PAGE.url}]"
    assert jira_site.links_of(incident) == [(incident, "Relates", follow_up)]
    assert [link.object["title"] for link in stored.remote_links] == ["#inc-42-checkout"]


async def test_an_email_finds_the_person_account(
    jira_site: SandboxJira, tracker: JiraTracker
) -> None:
    carol = jira_site.add_user("Carol Oncall", email="carol@example.com")
    jira_site.add_user("Caroline Other", email="caroline@example.com")

    expected = carol.account_id if jira_site.mode == "cloud" else carol.name
    assert await tracker.account_for_email("Carol@example.com") == expected
    assert await tracker.account_for_email("nobody@example.com") is None


async def test_a_hidden_cloud_email_still_finds_its_one_account(cloud_site: SandboxJira) -> None:
    dave = cloud_site.add_user("Dave", email="dave@example.com", email_visible=False)
    tracker = jira_tracker(cloud_site)
    try:
        assert await tracker.account_for_email("dave@example.com") == dave.account_id
    finally:
        await tracker.close()


async def test_project_fields_and_priorities_describe_the_site(
    jira_site: SandboxJira, tracker: JiraTracker
) -> None:
    project = await tracker.project("INC")
    assert project is not None
    assert project.issue_types == ("Incident", "Task")
    assert project.statuses == ("To Do", "In Progress", "Mitigated", "Post-mortem", "Done")
    assert await tracker.project("NOPE") is None

    fields = await tracker.fields()
    impact = fields[jira_site.field_id("Impact")]
    assert (impact.type, impact.custom) == (
        "string",
        "com.atlassian.jira.plugin.system.customfieldtypes:textarea",
    )
    assert fields["priority"].type == "priority"
    await tracker.fields()
    assert len(jira_site.calls("getFields")) == 1  # cached

    assert await tracker.priorities() == ("Highest", "High", "Medium", "Low")
    # GET /priority is deprecated on Cloud (priority schemes) but live: listed, not failed.
    assert jira_site.deprecated_calls == (["getPriorities"] if jira_site.mode == "cloud" else [])


async def test_calls_run_in_the_adapters_bounded_pool_without_blocking_the_loop(
    cloud_site: SandboxJira,
) -> None:
    tracker = jira_tracker(cloud_site, workers=2)
    try:
        key = await open_incident(tracker)
        cloud_site.inject_delay(r"/issue/INC-1$", 0.2, times=6, method="GET")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        ticker = asyncio.create_task(tick())
        started = time.monotonic()
        snapshots = await asyncio.gather(*(tracker.issue(key) for _ in range(6)))
        elapsed = time.monotonic() - started
        ticker.cancel()

        assert all(s is not None and s.ref.key == key for s in snapshots)
        # Six 0.2 s answers: 0.6 s two at a time (0.4 s with three threads, 0.2 s with six).
        assert elapsed >= 0.55
        assert ticks >= 10  # the event loop kept running meanwhile
    finally:
        await tracker.close()
