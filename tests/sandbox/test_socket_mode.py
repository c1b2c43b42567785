"""A real Bolt app over a real Socket Mode WebSocket to the sandbox."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import PayloadError, SlackSandbox

Connect = Callable[[], Awaitable[AsyncSocketModeHandler]]

DECLARE_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "declare",
    "title": {"type": "plain_text", "text": "Declare"},
    "submit": {"type": "plain_text", "text": "Declare"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        },
        {
            "type": "input",
            "block_id": "priority",
            "label": {"type": "plain_text", "text": "Priority"},
            "element": {
                "type": "static_select",
                "action_id": "value",
                "options": [
                    {"text": {"type": "plain_text", "text": "P1"}, "value": "p1"},
                    {"text": {"type": "plain_text", "text": "P2"}, "value": "p2"},
                ],
            },
        },
    ],
}


async def test_a_slash_command_ack_payload_is_shown_to_the_user(
    slack: SlackSandbox, bolt: AsyncApp, connect: Connect
) -> None:
    @bolt.command("/incident")
    async def handle(ack: Any, command: dict[str, Any]) -> None:
        await ack(text=f"Usage for {command['text']}")

    await connect()
    alice = slack.add_user("alice")
    channel = slack.add_channel("general", members=[alice])
    ack = await slack.run_slash_command(alice, "/incident", "help", channel)
    assert ack.acked and ack.payload == {"text": "Usage for help"}
    assert [e.text for e in slack.ephemerals(alice, channel)] == ["Usage for help"]


async def test_a_modal_is_opened_submitted_and_answered_with_errors(
    slack: SlackSandbox, bolt: AsyncApp, connect: Connect
) -> None:
    submitted: list[dict[str, Any]] = []

    @bolt.command("/incident")
    async def open_modal(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=DECLARE_MODAL)

    @bolt.view("declare")
    async def submit(ack: Any, view: dict[str, Any]) -> None:
        submitted.append(view["state"]["values"])
        if view["state"]["values"]["title"]["value"]["value"] == "x":
            await ack(response_action="errors", errors={"title": "Too short"})
        else:
            await ack()

    await connect()
    alice = slack.add_user("alice")
    await slack.run_slash_command(alice, "/incident")
    [view] = await slack.wait_for(lambda: slack.views(alice))
    answer = await slack.submit_view(
        alice, view.id, {"title": {"value": "x"}, "priority": {"value": "p1"}}
    )
    assert answer.errors == {"title": "Too short"}
    assert submitted[0]["priority"]["value"]["selected_option"]["value"] == "p1"
    await slack.submit_view(
        alice, view.id, {"title": {"value": "DB down"}, "priority": {"value": "p2"}}
    )
    assert slack.views(alice) == []
    with pytest.raises(PayloadError):
        await slack.submit_view(alice, view.id, {})


async def test_a_button_click_carries_the_message_it_came_from(
    slack: SlackSandbox, bolt: AsyncApp, connect: Connect, client: AsyncWebClient
) -> None:
    clicks: list[dict[str, Any]] = []

    @bolt.action("incident.ack")
    async def clicked(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        clicks.append(body)
        await respond(text="Acknowledged", replace_original=True)

    await connect()
    alice = slack.add_user("alice")
    channel = slack.add_channel("inc", members=[alice], bot=True)
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": "Ack"},
        "action_id": "incident.ack",
    }
    blocks = [{"type": "actions", "block_id": "b", "elements": [button]}]
    ts = (await client.chat_postMessage(channel=channel, text="Page", blocks=blocks))["ts"]
    assert slack.render_blocks(blocks) == "[Ack]"
    await slack.click_button(alice, "incident.ack", channel_id=channel, ts=ts)
    await slack.wait_for(lambda: slack.channels[channel].messages[ts].text == "Acknowledged")
    assert clicks[0]["container"]["message_ts"] == ts
    with pytest.raises(PayloadError, match="available"):
        await slack.click_button(alice, "nope", channel_id=channel, ts=ts)


async def test_an_unacked_event_is_redelivered_with_retry_attempt(
    slack: SlackSandbox, bolt: AsyncApp, connect: Connect
) -> None:
    attempts: list[str | None] = []

    @bolt.event("reaction_added")
    async def reacted(body: dict[str, Any], context: Any, request: Any) -> None:
        attempts.append((request.headers.get("x-slack-retry-num") or [None])[0])

    await connect()
    alice = slack.add_user("alice")
    channel = slack.add_channel("inc", members=[alice], bot=True)
    ts = await slack.post_message(alice, channel, "db down")
    slack.fail_next_socket_ack()
    await slack.add_reaction(alice, channel, ts, "eyes")
    await slack.wait_for(lambda: len(attempts) >= 2, timeout=5)
    assert attempts[:2] == ["0", "1"]


async def test_after_a_refresh_the_bolt_client_reconnects_and_gets_envelopes(
    slack: SlackSandbox, bolt: AsyncApp, connect: Connect
) -> None:
    seen: list[str] = []

    @bolt.event("app_home_opened")
    async def home(event: dict[str, Any]) -> None:
        seen.append(event["user"])

    await connect()
    before = slack.hub.total_connections
    await slack.disconnect("refresh_requested")
    await slack.hub.wait_for_new_connection(after=before, timeout=5)
    alice = slack.add_user("alice")
    await slack.open_app_home(alice)
    await slack.wait_for(lambda: seen == [alice])
    assert len(slack.calls("apps.connections.open")) == 2


async def raw_socket(
    slack: SlackSandbox, session: aiohttp.ClientSession
) -> aiohttp.ClientWebSocketResponse:
    client = AsyncWebClient(token=slack.app_token, base_url=slack.base_url)
    url = (await client.apps_connections_open(app_token=slack.app_token))["url"]
    socket = await session.ws_connect(url)
    hello = await socket.receive_json()
    assert hello["type"] == "hello" and hello["connection_info"]["app_id"] == slack.app_id
    return socket


async def test_an_eleventh_connection_is_refused(slack: SlackSandbox) -> None:
    async with aiohttp.ClientSession() as session:
        sockets = [await raw_socket(slack, session) for _ in range(10)]
        client = AsyncWebClient(token=slack.app_token, base_url=slack.base_url)
        url = (await client.apps_connections_open(app_token=slack.app_token))["url"]
        eleventh = await session.ws_connect(url)
        refused = await eleventh.receive_json()
        assert refused["reason"] == "too_many_websockets"
        for socket in sockets:
            await socket.close()


async def test_an_interaction_without_ack_is_an_error_the_user_sees(slack: SlackSandbox) -> None:
    alice = slack.add_user("alice")
    async with aiohttp.ClientSession() as session:
        socket = await raw_socket(slack, session)
        ack = await slack.run_global_shortcut(alice, "declare")
        envelope = json.loads((await socket.receive()).data)
        assert envelope["type"] == "interactive" and envelope["payload"]["callback_id"] == "declare"
        assert not ack.acked
        await socket.close()
    assert slack.user_errors == ["shortcut declare: the app did not respond"]
    assert [v.kind for v in slack.violations] == ["ack_timeout"]
    slack.violations.clear()
