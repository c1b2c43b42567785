"""PagerDuty end to end: the wired bot, the real PagerDuty adapter over TLS and the sandbox
PagerDuty shaped like the example catalog (the ``pagerduty`` fixture: Payments' level 1 is Olive,
Slack's ``oncall``; level 2 Bob and Erin, who has no Slack account; Checkout has nobody on call),
the Slack sandbox over Socket Mode, PostgreSQL. Every test is also a contract test: both sandboxes
fail it at teardown on any request that broke the vendor's contract.

Pages go out in outbox jobs after commit; acknowledgements come back through the pull, which
these tests run by hand (``page_pull.pull()``) instead of waiting for its schedule."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import page
from bot.blocks.ids import ActionId, BlockId, CallbackId
from bot.blocks.oncall import PICK_PAGE_INCIDENT_CALLBACK as PICK_PAGE
from bot.domain.declaration import IncidentChanges
from bot.domain.incident import Actor, Incident, Priority, Status, TimelineKind
from bot.main import start_bot
from bot.page_check import pagerduty_problems
from bot.wiring import PAGERDUTY_ATTEMPTS
from sandbox.pagerduty import SandboxPagerDuty
from sandbox.pagerduty.state import Incident as PagerDutyIncident
from sandbox.pagerduty.state import User as PagerDutyUser
from sandbox.slack import SlackSandbox
from storage import models
from storage.pages import PageRepository
from storage.repository import IncidentRepository, TimelineRepository
from tests.app.test_redelivery import modal
from tests.cli.test_operator_commands import REPO, firefighter
from tests.conftest import pagerduty_settings
from tests.workspace import (
    Workspace,
    declare_and_wait,
    eventually,
    outage,
    outbox_idle,
    seed_workspace,
)

PAYMENTS = "PPAY001"
CHECKOUT = "PCHK001"


@pytest.fixture
def ws(slack: SlackSandbox) -> Workspace:
    return seed_workspace(slack)


def person(pagerduty: SandboxPagerDuty, email: str) -> PagerDutyUser:
    user = pagerduty.user_by_email(email)
    assert user is not None
    return user


def paged(pagerduty: SandboxPagerDuty, incident: Incident, service: str = PAYMENTS) -> list[Any]:
    """The PagerDuty incidents opened for this incident and service (every round)."""
    prefix = page.page_key(incident.id, service)
    return [i for i in pagerduty.incidents.values() if (i.incident_key or "").startswith(prefix)]


async def the_page(pagerduty: SandboxPagerDuty, incident: Incident) -> PagerDutyIncident:
    found: list[PagerDutyIncident] = await eventually(lambda: _async(paged(pagerduty, incident)))
    assert len(found) == 1
    return found[0]


async def _async(value: Any) -> Any:
    return value


async def entries(incident_id: int, kind: TimelineKind = TimelineKind.PAGE) -> list[Any]:
    return [e for e in await TimelineRepository().list(incident_id, limit=1000) if e.kind is kind]


def in_channel(slack: SlackSandbox, incident: Incident, needle: str) -> list[str]:
    channel = slack.ws.channels[incident.channel_id or ""]
    return [m.text for m in channel.messages.values() if needle in m.text]


async def said(slack: SlackSandbox, incident: Incident, needle: str) -> list[str]:
    """The channel's messages containing ``needle``, once there is one: the outbox hands a post
    back for a moment while the incident's Slack lane is busy, which ``outbox_idle`` does not
    wait for. Read again once the outbox is idle, so a second one would show."""
    await eventually(lambda: _async(in_channel(slack, incident, needle)))
    await outbox_idle()
    return in_channel(slack, incident, needle)


def told(slack: SlackSandbox, user: str, needle: str) -> list[str]:
    """What the bot showed ``user`` (ephemerals and DMs) containing ``needle``."""
    shown = [slack.render_message(e) for e in slack.ephemerals(user)]
    shown += [slack.render_message(m) for m in slack.dms(user) if m.user == slack.bot_user_id]
    return [t for t in shown if needle in t]


async def shown_to(slack: SlackSandbox, user: str, needle: str) -> str:
    return str((await slack.wait_for(lambda: told(slack, user, needle)))[-1])


async def pull(bot: Any) -> Any:
    report = await bot.page_pull.pull()
    await outbox_idle()
    return report


# --- on-call ---------------------------------------------------------------------------------------


async def test_oncall_in_the_channel_lists_each_level_with_slack_people_and_the_others_by_name(
    pagerduty_bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(pagerduty_bot, ws)

    await slack.run_slash_command(ws.alice, "/incident", "oncall", incident.channel_id)

    shown = await shown_to(slack, ws.alice, f"On call now for #{incident.id}")
    assert "*Payments API* · escalation policy _Payments API on-call_" in shown
    # Slack accounts matched by e-mail are mentions (shown here as Slack renders them); Erin is
    # on call in PagerDuty but no Slack account has her e-mail: shown by name, not dropped.
    assert "Level 1: @oncall (Payments API level 1)" in shown
    assert (
        "Level 2: @bob (Payments API level 2), "
        "Erin Fox _(no Slack account with their e-mail)_ (Payments API level 2)"
    ) in shown


async def test_oncall_outside_a_channel_lists_every_service_and_says_plainly_when_nobody_is_on(
    pagerduty_bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    general = slack.add_channel("general", members=[ws.alice])

    await slack.run_slash_command(ws.alice, "/incident", "oncall", general)
    every = await shown_to(slack, ws.alice, "every PagerDuty service")
    for name in ("Payments API", "Checkout", "Search", "Data platform", "SRE primary"):
        assert f"*{name}*" in every
    await slack.run_slash_command(ws.alice, "/incident", "oncall checkout", general)
    checkout = await shown_to(slack, ws.alice, "*Checkout*")
    assert "Nobody is on call right now: a page would notify nobody." in checkout

    ack = await slack.run_slash_command(ws.alice, "/incident", "oncall nosuch", general)
    assert ack.payload is not None and "`nosuch` is not a PagerDuty service" in ack.payload["text"]


async def test_page_outside_a_channel_asks_which_incident_then_pages_it(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(pagerduty_bot, ws)
    general = slack.add_channel("general", members=[ws.alice])

    await slack.run_slash_command(ws.alice, "/incident", "page sre", general)
    picker = await slack.wait_for(
        lambda: next(
            (v for v in slack.views(ws.alice) if v.payload.get("callback_id") == PICK_PAGE),
            None,
        )
    )
    ack = await slack.submit_view(
        ws.alice, picker.id, {BlockId.PICK_INCIDENT: {BlockId.PICK_INCIDENT: str(incident.id)}}
    )

    assert ack.acked and not ack.errors
    assert "Paging *SRE primary*" in await shown_to(slack, ws.alice, f"for #{incident.id}")
    await said(slack, incident, "Paged SRE primary")
    # Alice has no PagerDuty account: pages go out in the bot's name (PAGERDUTY_FROM_EMAIL).
    assert pagerduty.user_by_email("alice@example.com") is None
    (sre,) = paged(pagerduty, incident, "PSRE001")
    assert [u for u, _ in sre.assignments] == [person(pagerduty, "bob@example.com").id]


async def test_without_pagerduty_oncall_and_page_say_it_is_not_configured(
    bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(bot, ws)
    for text in ("oncall", "page", "page payments"):
        ack = await slack.run_slash_command(ws.alice, "/incident", text, incident.channel_id)
        assert ack.payload is not None
        assert "PagerDuty is not configured" in ack.payload["text"]
    assert await PageRepository().list(incident.id) == []


async def test_the_declare_modal_opens_at_once_then_shows_who_a_p2_pages(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, slack: SlackSandbox, ws: Workspace
) -> None:
    general = slack.add_channel("general", members=[ws.alice])
    pagerduty.slow_down(1.0, path_pattern="^/oncalls$", times=5)  # a slow PagerDuty

    ack = await slack.run_slash_command(ws.alice, "/incident", "open", general)
    view = await modal(slack, ws.alice, CallbackId.DECLARE_MODAL)
    assert ack.acked
    opened_hash = view.hash
    await slack.click_button(
        ws.alice,
        ActionId.DECLARE_CATEGORY.value,
        view_id=view.id,
        block_id=BlockId.DECLARE_CATEGORY.value,
        value="payments",
    )
    # As a person would, pick the impact once the modal shows the category's re-render.
    await slack.wait_for(lambda: view.hash != opened_hash)
    await slack.click_button(
        ws.alice,
        ActionId.DECLARE_IMPACT.value,
        view_id=view.id,
        block_id=f"{BlockId.DECLARE_IMPACT_PREFIX}business",
        value="medium",
    )

    def oncall_section() -> str:
        blocks = [
            b
            for b in slack.views(ws.alice)[-1].payload["blocks"]
            if b.get("block_id") == "declare.oncall"
        ]
        return slack.render_blocks(blocks)

    asking = await slack.wait_for(
        lambda: "asking PagerDuty" in oncall_section() and oncall_section()
    )
    assert "P2 pages on-call at declaration" in asking
    shown = await slack.wait_for(lambda: "Level 1" in oncall_section() and oncall_section())
    assert "@oncall" in shown and "Erin Fox" in shown


# --- paging ----------------------------------------------------------------------------------------


async def test_a_p2_pages_its_category_at_declaration_once_and_invites_who_was_notified(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(pagerduty_bot, ws, key="same-view")
    again = await declare_and_wait(pagerduty_bot, ws, key="same-view")  # Slack redelivered it
    assert again.id == incident.id

    opened = await the_page(pagerduty, incident)
    assert opened.incident_key == f"firefighter-{incident.id}-{PAYMENTS}"
    assert opened.urgency == "high"  # pagerduty.urgency of P2
    assert opened.title == f"[P2] #{incident.id} {incident.title}"
    assert f"app_redirect?channel={incident.channel_id}" in str(opened.details)
    assert [u for u, _ in opened.assignments] == [person(pagerduty, "oncall@example.com").id]
    assert ws.responder in slack.ws.channels[incident.channel_id or ""].members
    (line,) = await said(slack, incident, "Paged Payments API (automatic for P2)")
    assert f"PagerDuty #{opened.number}, high urgency. Notified: Olive Oncall." in line
    (entry,) = await entries(incident.id)
    assert entry.actor.display_name == "FireFighter" and entry.data["key"] == opened.incident_key
    assert len(pagerduty.calls("createIncident")) == 1


async def test_a_p3_is_paged_when_asked_once_however_often_and_raising_it_pages_nothing_more(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, slack: SlackSandbox, ws: Workspace
) -> None:
    p3 = await declare_and_wait(
        pagerduty_bot,
        ws,
        outage(
            impacts={"customers": "low"},
            priority_override=Priority.P3,
            override_reason="Refunds are delayed",
        ),
    )
    assert p3.priority is Priority.P3 and paged(pagerduty, p3) == []

    for _ in range(2):  # a double click: two commands, two trigger ids
        await slack.run_slash_command(ws.alice, "/incident", "page", p3.channel_id)
    await pagerduty_bot.background.drain()
    await outbox_idle()

    (opened,) = paged(pagerduty, p3)
    assert opened.urgency == "low"  # pagerduty.urgency of P3
    assert len(pagerduty.calls("createIncident")) == 1
    await shown_to(slack, ws.alice, "Paging *Payments API*")
    # The second command found the first page (being sent, or sent: it depends on the moment).
    again = await shown_to(slack, ws.alice, "is already paged")
    assert "nothing was sent again" in again
    assert len(await entries(p3.id)) == 1

    # Raised to P2 (paged at declaration): its service is paged already, nothing more is sent.
    await pagerduty_bot.service.update(
        p3.id, IncidentChanges(priority=Priority.P2), by=Actor.user(ws.alice)
    )
    await outbox_idle()
    assert len(paged(pagerduty, p3)) == 1 and len(await entries(p3.id)) == 1


async def test_slack_redelivering_the_page_command_pages_once(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(pagerduty_bot, ws)
    await outbox_idle()

    ack = await slack.run_slash_command(ws.alice, "/incident", "page sre", incident.channel_id)
    await slack.redeliver(ack.envelope_id, times=2)
    await pagerduty_bot.background.drain()
    await outbox_idle()

    (sre,) = paged(pagerduty, incident, "PSRE001")
    assert sre.escalation_policy_id == "PESC002"  # the catalog's escalation_policy_id
    assert len(await PageRepository().list(incident.id)) == 2  # Payments at declaration, SRE
    assert len(await said(slack, incident, "Paged SRE primary")) == 1


async def test_a_page_whose_answer_was_lost_is_found_by_its_key_when_retried(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, slack: SlackSandbox, ws: Workspace
) -> None:
    pagerduty.lose_answer("^/incidents$", method="POST")
    incident = await declare_and_wait(pagerduty_bot, ws)
    await models.OutboxItem.filter(kind=page.PAGE, status="pending").update(
        next_attempt_at=datetime.now(UTC)
    )
    pagerduty_bot.worker.wake()
    await said(slack, incident, "Paged Payments API")

    await the_page(pagerduty, incident)
    assert [c.status for c in pagerduty.calls("createIncident")] == [201]
    assert len(await entries(incident.id)) == 1


async def test_a_restart_in_the_middle_of_a_page_leaves_one_pagerduty_incident(
    db: object, slack: SlackSandbox, pagerduty: SandboxPagerDuty, catalog: Any, ws: Workspace
) -> None:
    settings = pagerduty_settings(slack, pagerduty, outbox_lease_seconds=0.3)
    # PagerDuty takes its time to answer the page: the bot stops while it is in flight.
    held = pagerduty.slow_down(0.5, path_pattern="^/incidents$", method="POST")
    async with AsyncExitStack() as stack:
        first = await start_bot(settings, catalog, stack)  # type: ignore[arg-type]
        await slack.wait_for_connection()
        declared = await first.service.declare(outage(), by=Actor.user(ws.alice), intent_key="x")
        await asyncio.wait_for(held.arrived.wait(), 5)  # the POST is in flight: stop the bot
    async with AsyncExitStack() as stack:
        second = await start_bot(settings, catalog, stack)  # type: ignore[arg-type]
        await slack.wait_for_connection()
        incident = await IncidentRepository().require(declared.incident.id)
        await said(slack, incident, "Paged Payments API")
        await outbox_idle()
        assert second.service.pager is not None

    incident = await IncidentRepository().require(declared.incident.id)
    await the_page(pagerduty, incident)
    # The first bot's POST opened it; the second bot found it by its key (or was refused, then
    # found it): never a second PagerDuty incident.
    assert [c.status for c in pagerduty.calls("createIncident")] in ([201], [201, 400])
    assert len(await entries(incident.id)) == 1
    assert len(await said(slack, incident, "Paged Payments API")) == 1


async def test_paging_an_unknown_service_lists_them_and_nobody_on_call_is_said_plainly(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(pagerduty_bot, ws)
    ack = await slack.run_slash_command(ws.alice, "/incident", "page nosuch", incident.channel_id)
    assert ack.payload is not None
    shown = slack.render_blocks(ack.payload["blocks"])
    assert "`nosuch` is not a PagerDuty service FireFighter knows" in shown
    assert "`payments`: Payments API" in shown and "`sre`: SRE primary" in shown

    await slack.run_slash_command(ws.alice, "/incident", "page checkout", incident.channel_id)
    await pagerduty_bot.background.drain()
    await outbox_idle()

    (opened,) = paged(pagerduty, incident, CHECKOUT)
    assert opened.assignments == []
    (line,) = await said(slack, incident, "Paged Checkout")
    assert "Nobody is on call for Checkout right now, so nobody was notified" in line
    (entry,) = [e for e in await entries(incident.id) if "Checkout" in e.text]
    assert entry.actor.id == ws.alice  # asked by Alice


# --- PagerDuty down --------------------------------------------------------------------------------


async def test_while_pagerduty_is_down_slack_goes_on_and_the_page_leaves_after(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, slack: SlackSandbox, ws: Workspace
) -> None:
    pagerduty.start_outage()
    incident = await declare_and_wait(pagerduty_bot, ws)
    assert incident.channel_id is not None  # Slack was not held up
    (queued,) = await PageRepository().list(incident.id)
    assert queued.status == "requested"
    pagerduty.end_outage()
    # Skip the backoff's wait rather than sleep through it.
    await models.OutboxItem.filter(kind=page.PAGE, status="pending").update(
        next_attempt_at=datetime.now(UTC)
    )
    pagerduty_bot.worker.wake()
    await said(slack, incident, "Paged Payments API")
    await the_page(pagerduty, incident)
    assert await models.OutboxItem.filter(status="failed").count() == 0


async def test_a_page_that_fails_its_last_attempt_is_told_and_can_be_asked_again(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, slack: SlackSandbox, ws: Workspace
) -> None:
    pagerduty.start_outage()
    incident = await declare_and_wait(pagerduty_bot, ws)
    await eventually(
        lambda: models.OutboxItem.filter(kind=page.PAGE, status="pending", attempts__gte=1).exists()
    )
    # The backoff's attempts all spent but one (PAGERDUTY_ATTEMPTS is about 20 minutes).
    await models.OutboxItem.filter(kind=page.PAGE, status="pending").update(
        attempts=PAGERDUTY_ATTEMPTS - 1, next_attempt_at=datetime.now(UTC)
    )
    pagerduty_bot.worker.wake()

    (failure,) = await eventually(lambda: entries(incident.id, TimelineKind.SIDE_EFFECT_FAILED))
    assert failure.text.startswith("Could not page on-call in PagerDuty")
    await said(slack, incident, "I could not page on-call in PagerDuty")
    await shown_to(slack, ws.alice, "I could not page on-call in PagerDuty")  # the declarer's DM

    pagerduty.end_outage()
    await slack.run_slash_command(ws.alice, "/incident", "page", incident.channel_id)
    await pagerduty_bot.background.drain()
    await outbox_idle()
    (opened,) = paged(pagerduty, incident)
    assert opened.incident_key == f"firefighter-{incident.id}-{PAYMENTS}-r2"
    assert [p.status for p in await PageRepository().list(incident.id)] == ["failed", "triggered"]


async def test_a_429_storm_is_ridden_out_with_one_pagerduty_incident(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, ws: Workspace
) -> None:
    pagerduty.inject_status("^/incidents$", 429, retry_after=1, times=1)
    incident = await declare_and_wait(pagerduty_bot, ws)
    await eventually(lambda: _async(paged(pagerduty, incident)), seconds=10)
    await outbox_idle()
    assert len(paged(pagerduty, incident)) == 1


# --- acknowledgement, resolution, reopening --------------------------------------------------------


async def test_an_acknowledgement_in_pagerduty_sets_acknowledged_at_and_is_told_once(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(pagerduty_bot, ws)
    opened = await the_page(pagerduty, incident)
    assert incident.milestones.acknowledged_at is None
    await outbox_idle()

    pagerduty.acknowledge_as(person(pagerduty, "oncall@example.com"), opened.id)
    report = await pull(pagerduty_bot)
    await pull(pagerduty_bot)  # overlapping windows: read again, applied once

    assert report.applied == 1
    acked = await IncidentRepository().require(incident.id)
    # PagerDuty's time (whole seconds), never before the declaration (the milestone rule).
    declared_at = acked.milestones.declared_at
    assert declared_at is not None
    assert acked.milestones.acknowledged_at == max(opened.acknowledgements[0][1], declared_at)
    (line,) = await said(slack, incident, "acknowledged the page")
    assert "Olive Oncall acknowledged the page on Payments API" in line
    milestone = [e for e in await entries(incident.id, TimelineKind.MILESTONE_SET)]
    assert len(milestone) == 1 and milestone[0].actor.display_name == "Olive Oncall in PagerDuty"
    assert (await PageRepository().list(incident.id))[0].status == "acknowledged"


async def test_an_acknowledgement_by_someone_without_slack_is_told_by_name(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(pagerduty_bot, ws)
    opened = await the_page(pagerduty, incident)
    await pagerduty_bot.service.add_note(
        incident.id, "Looking at the gateway", by=Actor.user(ws.alice), intent_key="n1"
    )
    first_response = (await IncidentRepository().require(incident.id)).milestones.acknowledged_at

    pagerduty.acknowledge_as(person(pagerduty, "erin@example.com"), opened.id)
    await pull(pagerduty_bot)

    (line,) = await said(slack, incident, "acknowledged the page")
    assert "Erin Fox acknowledged" in line
    # Alice's note was the first response: the acknowledgement does not move it.
    assert (await IncidentRepository().require(incident.id)).milestones.acknowledged_at == (
        first_response
    )


async def test_mitigation_resolves_the_page_without_echo_and_only_a_reopen_pages_again_anew(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(pagerduty_bot, ws)
    opened = await the_page(pagerduty, incident)
    await outbox_idle()

    await pagerduty_bot.service.change_status(
        incident.id, Status.MITIGATED, by=Actor.user(ws.alice)
    )
    await outbox_idle()

    assert opened.status == "resolved"
    assert len(await said(slack, incident, "Resolved the page on Payments API")) == 1
    await pull(pagerduty_bot)  # the bot's own resolution comes back as a log entry: skipped
    resolved = [e for e in await entries(incident.id) if "esolved" in e.text]
    assert len(resolved) == 1 and resolved[0].actor.display_name == "FireFighter"
    await slack.run_slash_command(ws.alice, "/incident", "page sre", incident.channel_id)
    refused = await shown_to(slack, ws.alice, "is Mitigated")  # nobody is paged for it now
    assert "Reopen it first" in refused and paged(pagerduty, incident, "PSRE001") == []

    await pagerduty_bot.service.change_status(
        incident.id,
        Status.INVESTIGATING,
        by=Actor.user(ws.alice),
        justification="Refusals are back at 30%",
    )
    await outbox_idle()

    base = f"firefighter-{incident.id}-{PAYMENTS}"
    statuses = {i.incident_key: i.status for i in paged(pagerduty, incident)}
    assert statuses == {base: "resolved", f"{base}-r2": "triggered"}


async def test_a_page_resolved_in_pagerduty_is_told_and_the_incident_stays_as_it_is(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(pagerduty_bot, ws)
    opened = await the_page(pagerduty, incident)
    await outbox_idle()

    pagerduty.resolve_as(person(pagerduty, "bob@example.com"), opened.id)
    await pull(pagerduty_bot)

    (line,) = await said(slack, incident, "resolved the page")
    assert "Bob Nguyen resolved the page on Payments API" in line
    assert (await IncidentRepository().require(incident.id)).status is Status.OPEN


# --- firefighter check -----------------------------------------------------------------------------


async def test_check_names_a_service_and_a_policy_pagerduty_does_not_have(
    pagerduty_bot: Any, pagerduty: SandboxPagerDuty, catalog: Any
) -> None:
    assert (
        await pagerduty_problems(catalog, pagerduty_bot.pager, from_email=pagerduty.bot.email) == []
    )
    services = [s.model_copy() for s in catalog.pagerduty.services]
    services[1] = services[1].model_copy(update={"service_id": "PNOPE01"})
    services[0] = services[0].model_copy(update={"escalation_policy_id": "PNOPE02"})
    broken = catalog.model_copy(
        update={"pagerduty": catalog.pagerduty.model_copy(update={"services": services})}
    )

    problems = dict(
        await pagerduty_problems(broken, pagerduty_bot.pager, from_email="nobody@example.com")
    )

    assert "PNOPE01" in problems[("pagerduty", "services", 1, "service_id")]
    assert "PNOPE02" in problems[("pagerduty", "services", 0, "escalation_policy_id")]
    assert "nobody@example.com is not a PagerDuty user" in problems[("pagerduty",)]


async def test_firefighter_check_locates_an_unknown_service_id_at_its_line(
    pagerduty: SandboxPagerDuty, tmp_path: Path
) -> None:
    config = tmp_path / "firefighter.yaml"
    example = (REPO / "bot" / "firefighter.example.yaml").read_text()
    config.write_text(example.replace("service_id: PSRC001", "service_id: PSRC009"))

    code, out = await firefighter(
        "check",
        FIREFIGHTER_CONFIG=str(config),
        PAGERDUTY_API_URL=pagerduty.base_url,
        PAGERDUTY_API_TOKEN=pagerduty.api_token,
        PAGERDUTY_FROM_EMAIL=pagerduty.bot.email,
        PAGERDUTY_CA_BUNDLE=pagerduty.ca_pem_path,
    )

    assert code == 1, out
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if "PSRC009" in text)
    assert f"pagerduty: {config}:{line}:" in out
    assert "pagerduty.services[2].service_id: PagerDuty has no service PSRC009" in out
    assert out.count("pagerduty: ") == 1  # the other services and their policies exist
    assert pagerduty.api_token not in out
