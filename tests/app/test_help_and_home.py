"""The slash command's help and errors, and the App Home, driven through Socket Mode."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import aiohttp

from bot.domain.incident import Actor, NewIncident, Priority
from sandbox.slack import SlackSandbox
from storage.repository import IncidentRepository, ParticipantRepository, RoleRepository


async def test_the_bare_command_answers_with_the_help_only_to_the_user(bot, slack: SlackSandbox):
    alice = slack.add_user("alice", real_name="Alice Martin")
    general = slack.add_channel("general", members=[alice])

    ack = await slack.run_slash_command(alice, "/incident", "", general)

    assert ack.acked
    shown = slack.ephemerals(alice, general)
    assert len(shown) == 1
    text = slack.render_message(shown[0])
    assert "/incident list [open|mine|closed]" in text
    assert slack.messages(general) == []


async def test_help_is_also_a_subcommand(bot, slack: SlackSandbox):
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])

    await slack.run_slash_command(alice, "/incident", "help", general)

    assert "incident commands" in slack.render_message(slack.ephemerals(alice, general)[0])


async def test_an_unknown_subcommand_names_the_closest_one(bot, slack: SlackSandbox):
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])

    await slack.run_slash_command(alice, "/incident", "lsit", general)

    text = slack.render_message(slack.ephemerals(alice, general)[0])
    assert "`lsit` is not a /incident subcommand" in text
    assert "Did you mean `/incident list`?" in text


async def test_list_with_a_wrong_filter_explains_the_choices(bot, slack: SlackSandbox):
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])

    await slack.run_slash_command(alice, "/incident", "list banana", general)

    text = slack.render_message(slack.ephemerals(alice, general)[0])
    assert "takes `open`, `mine` or `closed`" in text


async def test_list_says_when_there_is_no_open_incident(bot, slack: SlackSandbox):
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice])

    await slack.run_slash_command(alice, "/incident", "list", general)

    await slack.wait_for(lambda: slack.ephemerals(alice, general))
    assert "No open incident you can see" in slack.render_message(
        slack.ephemerals(alice, general)[0]
    )


async def test_the_empty_app_home_says_all_is_quiet(bot, slack: SlackSandbox):
    alice = slack.add_user("alice")

    await slack.open_app_home(alice)

    await slack.wait_for(lambda: slack.home_view(alice) is not None)
    text = slack.render_blocks(slack.home_view(alice).payload["blocks"])
    assert "All quiet" in text
    assert "/incident help" in text


async def _declare(title: str, *, by: str, private: bool = False, priority: Priority = Priority.P2):
    now = datetime.now(UTC)
    incident = await IncidentRepository().create(
        NewIncident(
            title=title,
            summary="Customers cannot pay with cards since the deploy.",
            priority=priority,
            category="payments",
            environments=("PRD",),
            created_by=by,
            created_at=now,
            private=private,
        )
    )
    await RoleRepository().assign(incident.id, "commander", by, at=now, by=Actor.user(by))
    return incident


async def test_the_app_home_lists_open_incidents_and_hides_private_ones_from_non_members(
    bot, slack: SlackSandbox
):
    alice = slack.add_user("alice")
    bob = slack.add_user("bob")
    public = await _declare("Card payments failing <!channel>", by=alice, priority=Priority.P1)
    secret = await _declare("Suspected data leak in exports", by=alice, private=True)

    await slack.open_app_home(bob)
    await slack.open_app_home(alice)

    await slack.wait_for(lambda: slack.home_view(bob) and slack.home_view(alice))
    bob_sees = slack.render_blocks(slack.home_view(bob).payload["blocks"])
    alice_sees = slack.render_blocks(slack.home_view(alice).payload["blocks"])
    assert f"#{public.id}" in bob_sees
    raw = json.dumps(slack.home_view(bob).payload)
    assert "<!channel>" not in raw  # user text never pings
    assert "&lt;!channel&gt;" in raw
    assert secret.title not in bob_sees
    assert secret.title in alice_sees
    assert "Your incidents" in alice_sees
    await ParticipantRepository().joined(secret.id, bob, at=datetime.now(UTC))
    await slack.open_app_home(bob)
    await slack.wait_for(
        lambda: secret.title in slack.render_blocks(slack.home_view(bob).payload["blocks"])
    )


async def test_healthz_reports_database_and_socket(bot):
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{bot.health_port}/healthz") as response:
            body = await response.json()
            assert response.status == 200
            assert body == {"status": "ok", "database": "ok", "socket": "connected"}
        async with http.get(f"http://127.0.0.1:{bot.health_port}/metrics") as response:
            assert response.status == 200
            assert "firefighter_slack_requests" in await response.text()
