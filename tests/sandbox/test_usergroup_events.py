"""User group changes reach a subscribed app as Slack sends them: ``subteam_created`` for a new
group, ``subteam_updated`` (the group and its users) and ``subteam_members_changed`` (the delta) for
new members; groups seeded before the app first connected are the workspace it was installed in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import DEFAULT_BOT_EVENTS, SlackSandbox

Connect = Callable[[], Awaitable[AsyncSocketModeHandler]]
EVENTS = ("subteam_created", "subteam_updated", "subteam_members_changed")


def _listen(bolt: AsyncApp) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    async def record(event: dict[str, Any]) -> None:
        seen.append(event)

    for name in EVENTS:
        bolt.event(name)(record)
    return seen


async def test_group_changes_are_sent_once_the_app_is_connected(
    slack: SlackSandbox, bolt: AsyncApp, connect: Connect, client: AsyncWebClient
) -> None:
    seen = _listen(bolt)
    alice, bob = slack.add_user("alice"), slack.add_user("bob")
    before = slack.add_usergroup("seeded", [alice])  # before the app connected: no event
    await connect()

    group = slack.add_usergroup("incident-managers", [])
    await slack.wait_for(lambda: len(seen) >= 1, timeout=5)
    slack.set_usergroup_members("@incident-managers", [alice, bob])
    await slack.wait_for(lambda: len(seen) >= 3, timeout=5)
    slack.set_usergroup_members(group, [bob])
    await slack.wait_for(lambda: len(seen) >= 5, timeout=5)
    slack.set_usergroup_members(group, [bob])  # no change: nothing sent

    created, updated, changed, _, removed = seen
    assert created["type"] == "subteam_created"
    assert created["subteam"]["id"] == group and created["subteam"]["handle"] == "incident-managers"
    assert created["subteam"]["user_count"] == "0"
    assert updated["type"] == "subteam_updated"
    assert updated["subteam"]["users"] == [alice, bob] and updated["subteam"]["user_count"] == 2
    assert changed["type"] == "subteam_members_changed" and changed["subteam_id"] == group
    assert changed["added_users"] == [alice, bob] and changed["removed_users"] == []
    assert changed["date_update"] >= changed["date_previous_update"]
    assert removed["removed_users"] == [alice] and removed["added_users"] == []
    assert before not in {e.get("subteam_id") or e["subteam"]["id"] for e in seen}
    # The Web API agrees with the events.
    assert (await client.usergroups_users_list(usergroup=group))["users"] == [bob]
    assert len(seen) == 5


async def test_an_app_not_subscribed_to_them_gets_no_group_events() -> None:
    events = tuple(e for e in DEFAULT_BOT_EVENTS if not e.startswith("subteam_"))
    async with SlackSandbox(bot_events=events, ack_timeout=0.5) as slack:
        bolt = AsyncApp(client=AsyncWebClient(token=slack.bot_token, base_url=slack.base_url))
        seen = _listen(bolt)
        reactions: list[dict[str, Any]] = []

        @bolt.event("reaction_added")
        async def reacted(event: dict[str, Any]) -> None:
            reactions.append(event)

        handler = AsyncSocketModeHandler(bolt, slack.app_token)
        await handler.connect_async()
        try:
            await slack.wait_for_connection(timeout=5)
            alice = slack.add_user("alice")
            group = slack.add_usergroup("incident-managers", [alice])
            slack.set_usergroup_members(group, [])
            # A subscribed event sent after them: once it is in, any group event would be too.
            channel = slack.add_channel("general", members=[alice], bot=True)
            ts = await slack.post_message(alice, channel, "hello")
            await slack.add_reaction(alice, channel, ts, "eyes")
            await slack.wait_for(lambda: reactions, timeout=5)
            assert seen == []
            assert [d.payload["event"]["type"] for d in slack.hub.deliveries.values()] == [
                "message",
                "reaction_added",
            ]
        finally:
            await handler.close_async()
