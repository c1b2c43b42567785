"""`PagerDutyPager` (the real `pagerduty` library in a thread pool) against the sandbox PagerDuty
over TLS. Every test is also a contract test: the sandbox fixture fails at teardown on any request
that broke PagerDuty's specs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from bot.ports import PageRequest, PagerError
from integrations.pagerduty import PagerDutyPager
from sandbox.pagerduty import SandboxPagerDuty
from tests.sandbox.pagerduty.roster import Roster, build_roster, pd, rest_client, roster

__all__ = ["pd", "roster"]  # fixtures shared with the sandbox's own tests

pytestmark = pytest.mark.asyncio

CHANNEL = "https://acme.slack.com/archives/C0INC42"


def _page(roster: Roster, incident_id: int = 42, **fields: object) -> PageRequest:
    values: dict[str, object] = {
        "incident_id": incident_id,
        "service_id": roster.payments.id,
        "title": "[P1] Checkout is failing",
        "details": "Payments are refused for every card since 10:02.",
        "channel_url": CHANNEL,
        **fields,
    }
    return PageRequest(**values)  # type: ignore[arg-type]


def _adapter(pd: SandboxPagerDuty, *, timeout: float = 5.0) -> PagerDutyPager:
    return PagerDutyPager(
        pd.base_url,
        token=pd.api_token,
        from_email=pd.bot.email,
        verify=pd.ca_pem_path,
        timeout=timeout,
        workers=4,
    )


@pytest_asyncio.fixture
async def pager(pd: SandboxPagerDuty) -> AsyncIterator[PagerDutyPager]:
    adapter = _adapter(pd)
    yield adapter
    await adapter.close()


async def test_on_call_lists_every_level_with_emails_for_slack_matching(
    pager: PagerDutyPager, roster: Roster
) -> None:
    on_call = await pager.on_call(service_id=roster.payments.id)

    assert on_call.escalation_policy_id == roster.payments_policy.id
    assert on_call.escalation_policy_name == "Payments on-call"
    assert [(s.level, s.user.email, s.schedule) for s in on_call.shifts] == [
        (1, "alice@example.com", "Primary"),
        (2, "bob@example.com", None),
        (2, "carol@example.com", "Secondary"),
    ]
    assert [u.name for u in on_call.level(2)] == ["Bob Chen", "Carol Diaz"]
    alice = on_call.shifts[0]
    assert alice.start is not None and alice.end is None  # an open-ended shift


async def test_nobody_on_call_is_an_empty_answer_and_a_page_then_has_no_assignee(
    pager: PagerDutyPager, roster: Roster
) -> None:
    on_call = await pager.on_call(escalation_policy_id=roster.quiet_policy.id)
    assert on_call.escalation_policy_name == "Quiet on-call"
    assert on_call.shifts == ()

    paged = await pager.trigger(_page(roster, service_id=roster.quiet.id))
    assert paged.status == "triggered"
    assert paged.assignees == ()


async def test_on_call_for_an_unknown_service_says_so(
    pager: PagerDutyPager, roster: Roster
) -> None:
    with pytest.raises(PagerError) as failed:
        await pager.on_call(service_id="PNOPE00")
    assert failed.value.code == "unknown_service"
    assert not failed.value.transient
    with pytest.raises(PagerError) as missing:
        await pager.on_call(escalation_policy_id="PNOPE00")
    assert missing.value.code == "not_found"


async def test_paging_twice_opens_one_incident_carrying_urgency_and_the_channel_link(
    pd: SandboxPagerDuty, pager: PagerDutyPager, roster: Roster
) -> None:
    page = _page(roster, urgency="low")
    first = await pager.trigger(page)
    second = await pager.trigger(page)

    assert second == first
    assert first.key == page.key == f"firefighter-42-{roster.payments.id}"
    assert first.status == "triggered"
    assert first.urgency == "low"
    assert first.assignees == (roster.alice.id,)
    assert first.url == f"https://{pd.subdomain}.pagerduty.com/incidents/{first.id}"
    (kept,) = pd.incidents_with_key(page.key)
    assert kept.id == first.id
    assert kept.title == "[P1] Checkout is failing"
    assert CHANNEL in kept.details
    assert len(pd.calls("createIncident")) == 1
    # Another service for the same FireFighter incident is another page.
    other = await pager.trigger(_page(roster, service_id=roster.quiet.id))
    assert other.id != first.id


async def test_concurrent_pages_that_both_miss_the_lookup_still_open_one_incident(
    pd: SandboxPagerDuty, pager: PagerDutyPager, roster: Roster
) -> None:
    # Hold both look-ups so each call finds nothing and both create: PagerDuty refuses the second
    # (same service and incident_key while the first is open) and that call finds the first.
    pd.slow_down(0.2, path_pattern="^/incidents$", method="GET", times=2)
    one, two = await asyncio.gather(pager.trigger(_page(roster)), pager.trigger(_page(roster)))

    assert one == two
    assert len(pd.incidents) == 1
    assert sorted(c.status for c in pd.calls("createIncident")) == [201, 400]


async def test_a_page_whose_answer_was_lost_is_found_when_retried(
    pd: SandboxPagerDuty, pager: PagerDutyPager, roster: Roster
) -> None:
    pd.lose_answer("^/incidents$", method="POST")
    with pytest.raises(PagerError) as lost:
        await pager.trigger(_page(roster))
    assert lost.value.code == "network"
    assert lost.value.transient

    retried = await pager.trigger(_page(roster))
    assert [i.id for i in pd.incidents.values()] == [retried.id]
    assert len(pd.calls("createIncident")) == 1


async def test_paging_an_unknown_service_is_not_retried(
    pd: SandboxPagerDuty, pager: PagerDutyPager, roster: Roster
) -> None:
    with pytest.raises(PagerError) as failed:
        await pager.trigger(_page(roster, service_id="PNOPE00"))
    assert failed.value.code == "unknown_service"
    assert not failed.value.transient
    assert pd.incidents == {}


async def test_paging_another_escalation_policy_assigns_its_people(
    pd: SandboxPagerDuty, pager: PagerDutyPager, roster: Roster
) -> None:
    database = pd.add_escalation_policy("Database on-call", [[roster.bob, roster.secondary]])
    paged = await pager.trigger(_page(roster, escalation_policy_id=database.id))
    assert set(paged.assignees) == {roster.bob.id, roster.carol.id}
    assert pd.incidents[paged.id].escalation_policy_id == database.id


async def test_a_note_reaches_the_incident_as_the_bot(
    pd: SandboxPagerDuty, pager: PagerDutyPager, roster: Roster
) -> None:
    paged = await pager.trigger(_page(roster))
    await pager.add_note(paged.id, "Status: mitigated by rolling back 4.2")
    (note,) = pd.incidents[paged.id].notes
    assert (note.content, note.user_id) == ("Status: mitigated by rolling back 4.2", pd.bot.id)


async def test_a_responders_acknowledgement_is_seen_by_the_pull_with_who_and_when(
    pd: SandboxPagerDuty, pager: PagerDutyPager, roster: Roster
) -> None:
    since = pd.now() - timedelta(seconds=1)
    paged = await pager.trigger(_page(roster))
    pd.acknowledge_as(roster.alice, paged.id)

    events = await pager.events_since([paged.id], since)

    assert [(e.kind, e.by.email if e.by else None, e.by_bot) for e in events] == [
        ("triggered", pd.bot.email, True),
        ("assigned", None, False),
        ("acknowledged", "alice@example.com", False),
    ]
    acknowledged = events[-1]
    assert acknowledged.incident_id == paged.id
    assert abs(acknowledged.at - datetime.now(UTC)) < timedelta(seconds=5)
    now = await pager.incident(paged.id)
    assert now is not None and now.status == "acknowledged"
    assert [(a.user_id, a.name) for a in now.acknowledgements] == [
        (roster.alice.id, "Alice Martin")
    ]


async def test_the_pull_reads_only_what_happened_since_its_last_window() -> None:
    clock = StepClock()
    async with SandboxPagerDuty(clock=clock) as sandbox:
        people = build_roster(sandbox)
        adapter = _adapter(sandbox)
        try:
            paged = await adapter.trigger(_page(people))
            clock.now += timedelta(minutes=3)
            window = clock.now
            sandbox.acknowledge_as(people.alice, paged.id)
            clock.now += timedelta(minutes=3)
            sandbox.resolve_as(people.bob, paged.id, resolution="rolled back")

            events = await adapter.events_since([paged.id, paged.id], window)
        finally:
            await adapter.close()
        sandbox.assert_no_violations()

    assert [(e.kind, e.by.name if e.by else None, e.at) for e in events] == [
        ("acknowledged", "Alice Martin", window),
        ("resolved", "Bob Chen", window + timedelta(minutes=3)),
    ]
    assert events[1].text == "rolled back"


async def test_the_bot_acknowledges_and_resolves_the_incident_it_opened(
    pd: SandboxPagerDuty, pager: PagerDutyPager, roster: Roster
) -> None:
    paged = await pager.trigger(_page(roster))
    acked = await pager.acknowledge(paged.id)
    assert acked.status == "acknowledged"
    assert acked.acknowledgements[0].user_id == pd.bot.id

    resolved = await pager.resolve(paged.id, resolution="Mitigated in FireFighter")
    again = await pager.resolve(paged.id)
    assert resolved.status == again.status == "resolved"
    assert pd.incidents[paged.id].log[-1].note == "Mitigated in FireFighter"
    events = await pager.events_since([paged.id], paged.created_at)
    assert all(e.by_bot for e in events if e.kind in {"acknowledged", "resolved"})


async def test_an_unknown_incident_is_none_or_not_found(pager: PagerDutyPager) -> None:
    assert await pager.incident("PNOPE00") is None
    assert await pager.find_incident("firefighter-1-PNOPE00") is None
    with pytest.raises(PagerError) as failed:
        await pager.acknowledge("PNOPE00")
    assert failed.value.code == "not_found"


async def test_users_are_found_by_email_whatever_the_case_and_a_stranger_is_none(
    pager: PagerDutyPager, roster: Roster
) -> None:
    carol = await pager.user_by_email("Carol@Example.com")
    assert carol is not None
    assert (carol.id, carol.name, carol.email) == (
        roster.carol.id,
        "Carol Diaz",
        "carol@example.com",
    )
    assert await pager.user_by_email("stranger@example.com") is None
    assert await pager.user_by_email("example.com") is None  # a substring is not a match


async def test_a_429_storm_comes_back_at_once_as_ratelimited_with_retry_after(
    pd: SandboxPagerDuty, pager: PagerDutyPager, roster: Roster
) -> None:
    pd.start_outage(429, retry_after=17)
    started = time.monotonic()
    with pytest.raises(PagerError) as limited:
        await pager.trigger(_page(roster))
    elapsed = time.monotonic() - started

    # An uncapped client sleeps 3 s, 6 s, 12 s… between attempts and never gives up.
    assert elapsed < 1.0
    assert limited.value.code == "ratelimited"
    assert limited.value.transient
    assert limited.value.retry_after == 17
    assert len(pd.requests) == 1  # the library did not retry
    pd.start_outage(429)  # no Retry-After: nothing to honour, the outbox's own backoff applies
    with pytest.raises(PagerError) as bare:
        await pager.user_by_email("alice@example.com")
    assert bare.value.retry_after is None
    pd.end_outage()
    assert (await pager.trigger(_page(roster))).status == "triggered"


async def test_an_outage_is_a_transient_unavailable(
    pd: SandboxPagerDuty, pager: PagerDutyPager, roster: Roster
) -> None:
    pd.start_outage(503)
    with pytest.raises(PagerError) as failed:
        await pager.on_call(service_id=roster.payments.id)
    assert (failed.value.code, failed.value.transient) == ("unavailable", True)
    pd.end_outage()
    assert (await pager.on_call(service_id=roster.payments.id)).shifts


async def test_a_pagerduty_slower_than_the_timeout_is_a_transient_network_error(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    adapter = _adapter(pd, timeout=0.3)
    pd.slow_down(0.8, path_pattern="^/users/")
    started = time.monotonic()
    try:
        with pytest.raises(PagerError) as failed:
            await adapter.on_call(service_id=roster.payments.id)
    finally:
        await adapter.close()
    assert time.monotonic() - started < 1.5
    assert (failed.value.code, failed.value.transient) == ("network", True)


async def test_the_library_alone_retries_429s_without_limit_even_with_retry_set_to_zero(
    pd: SandboxPagerDuty, roster: Roster
) -> None:
    """Why the adapter caps it as it does: `retry[429] = 0` means "default", i.e. unlimited."""
    client = rest_client(pd)
    client.retry = {429: 0}
    client.sleep_timer = 0.001  # the default 1.5 s doubling would make this test take 45 s
    pd.inject_status(r"^/users", 429, times=5)
    answer = await asyncio.to_thread(client.get, f"/users/{roster.bob.id}")
    assert answer.status_code == 200
    assert len(pd.calls("getUser")) == 6


class StepClock:
    """An injected clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_the_adapter_refuses_plain_http_and_an_ambiguous_on_call_question() -> None:
    with pytest.raises(ValueError, match="https"):
        PagerDutyPager("http://api.pagerduty.com", token="t", from_email="bot@example.com")
    adapter = PagerDutyPager("https://api.pagerduty.com", token="t", from_email="bot@example.com")
    try:
        with pytest.raises(ValueError, match="service_id or an escalation_policy_id"):
            await adapter.on_call()
    finally:
        await adapter.close()
