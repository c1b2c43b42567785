"""The incident managers' group on every access check: asked of Slack once, even when it is empty
or missing, and seen again as soon as Slack says it changed (``subteam_*`` events), not when the
cache expires (5 minutes).

Every access check reads the ``@incident-managers`` group (PRODUCT.md §5). An empty or missing
group was not cached, so each check cost a ``usergroups.list`` (tier 2); a 30 s memory of the empty
answer was tried and reverted, because a group filled after the bot's first look-up stayed empty for
30 s and refused its new members."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bot.domain.errors import AccessDenied
from bot.domain.incident import Actor, Incident
from sandbox.slack import SlackSandbox
from storage.repository import IncidentRepository
from tests.workspace import outage, outbox_idle

CHECKS = 20


@pytest.fixture
def people(slack: SlackSandbox) -> tuple[str, str]:
    """Alice, who declares, and a manager who is not in the incident: they may manage it only
    once in ``@incident-managers``. Seeded before the bot starts; each test makes that group."""
    slack.add_usergroup("payments-oncall", [slack.add_user("oncall")])
    slack.add_channel("incidents", bot=True)
    return slack.add_user("alice"), slack.add_user("manager")


@pytest.fixture
def empty_group(slack: SlackSandbox, people: tuple[str, str]) -> str:
    return slack.add_usergroup("incident-managers", [])


async def declared(bot: Any, alice: str) -> Incident:
    result = await bot.service.declare(outage(), by=Actor.user(alice), intent_key="i-1")
    await outbox_idle()
    return await IncidentRepository().require(result.incident.id)


def group_lookups(slack: SlackSandbox) -> int:
    return len(slack.calls("usergroups.list")) + len(slack.calls("usergroups.users.list"))


async def refused_each_time(bot: Any, incident: Incident, user: str) -> None:
    for _ in range(CHECKS):
        with pytest.raises(AccessDenied):
            await bot.service.require_may_act(incident.id, user, "update")


async def allowed_soon(bot: Any, incident: Incident, user: str, *, seconds: float = 20.0) -> None:
    """Poll the access check until it lets ``user`` in (far below the cache's 5 minutes)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            await bot.service.require_may_act(incident.id, user, "update")
            return
        except AccessDenied:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.05)


# The bot fixture comes last: it starts once the workspace is seeded (no events for those groups).
async def test_an_empty_incident_managers_group_is_asked_once_and_filled_when_slack_says_so(
    slack: SlackSandbox, people: tuple[str, str], empty_group: str, bot: Any
) -> None:
    alice, manager = people
    incident = await declared(bot, alice)
    before = group_lookups(slack)

    await refused_each_time(bot, incident, manager)

    # One look-up at most (the list, then the group's members), asked again by the first refusal
    # (see the last test); it was one usergroups.list per check.
    assert group_lookups(slack) - before <= 2
    events_before = len(slack.hub.deliveries)
    slack.set_usergroup_members(empty_group, [manager])
    await allowed_soon(bot, incident, manager)
    delivered = [
        d.payload["event"]["type"]
        for d in list(slack.hub.deliveries.values())[events_before:]
        if d.type == "events_api"
    ]
    assert "subteam_members_changed" in delivered
    # Removed again: refused again, without waiting either.
    slack.set_usergroup_members(empty_group, [])
    await refused_soon(bot, incident, manager)


async def test_a_missing_group_is_remembered_until_slack_creates_it(
    slack: SlackSandbox, people: tuple[str, str], bot: Any
) -> None:
    alice, manager = people
    incident = await declared(bot, alice)
    before = len(slack.calls("usergroups.list"))

    await refused_each_time(bot, incident, manager)

    assert len(slack.calls("usergroups.list")) - before <= 1
    slack.add_usergroup("incident-managers", [manager])  # subteam_created, then members
    await allowed_soon(bot, incident, manager)


async def refused_soon(bot: Any, incident: Incident, user: str, *, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            await bot.service.require_may_act(incident.id, user, "update")
        except AccessDenied:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{user} still allowed after {seconds}s")
        await asyncio.sleep(0.05)


async def test_a_group_changed_while_the_event_went_to_another_replica_is_read_again_on_refusal(
    slack: SlackSandbox, people: tuple[str, str], empty_group: str, bot: Any
) -> None:
    """Slack sends each event to one Socket Mode connection: with several replicas, this one may
    never hear that the manager joined the group. A refusal resting on the group asks Slack again
    (once in a while, not once per refusal), so the manager is let in without waiting 5 minutes."""
    alice, manager = people
    bot.service.group_reread_seconds = 1.0  # 10 s in the product: a second keeps the test short
    incident = await declared(bot, alice)
    await refused_each_time(bot, incident, manager)  # the empty group is cached

    group = slack.ws.usergroups[empty_group]
    slack.ws.set_usergroup_members(group, [manager], emit=False)  # told to another replica
    await allowed_soon(bot, incident, manager, seconds=30)

    group_lookups_before = group_lookups(slack)
    await bot.service.require_may_act(incident.id, manager, "update")
    assert group_lookups(slack) == group_lookups_before  # allowed: no asking again
