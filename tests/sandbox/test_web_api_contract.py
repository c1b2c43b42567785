"""The sandbox refuses and records requests that break Slack's Web API contract."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import SlackSandbox


def kinds(slack: SlackSandbox) -> list[str]:
    return [v.kind for v in slack.violations]


async def test_an_unknown_argument_is_recorded_as_a_violation(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    channel = slack.add_channel("general", bot=True)
    response = await client.chat_postMessage(channel=channel, text="hello", colour="red")
    assert response["ok"]
    assert kinds(slack) == ["unknown_argument"]
    assert "colour" in slack.violations[0].detail
    slack.violations.clear()


async def test_team_id_added_by_bolt_is_accepted(slack: SlackSandbox) -> None:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url, team_id=slack.team_id)
    channel = slack.add_channel("general", bot=True)
    await client.chat_postMessage(channel=channel, text="hello")
    await client.auth_test()
    assert slack.violations == []


async def test_a_missing_required_argument_is_refused_and_recorded(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.api_call("conversations.setTopic", params={"channel": "C1"})
    assert caught.value.response["error"] == "invalid_arguments"
    assert kinds(slack) == ["missing_argument"]
    slack.violations.clear()


async def test_a_json_body_sent_with_get_is_recorded(slack: SlackSandbox) -> None:
    headers = {"Authorization": f"Bearer {slack.bot_token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{slack.base_url}users.list", json={"limit": 5}, headers=headers) as response,
    ):
        assert (await response.json())["ok"]
    assert kinds(slack) == ["encoding", "encoding"]  # JSON with GET, and users.list takes no JSON
    slack.violations.clear()


async def test_form_query_and_json_arguments_are_merged(slack: SlackSandbox) -> None:
    headers = {"Authorization": f"Bearer {slack.bot_token}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{slack.base_url}conversations.create?name=inc-form",
            data={"is_private": "true"},
            headers=headers,
        ) as response:
            body = await response.json()
        assert body["channel"]["is_private"] is True
        blocks = '[{"type":"section","text":{"type":"mrkdwn","text":"hi"}}]'
        async with session.post(
            f"{slack.base_url}chat.postMessage",
            data={"channel": body["channel"]["id"], "blocks": blocks, "token": slack.bot_token},
        ) as response:
            posted = await response.json()
    assert posted["ok"], posted
    assert posted["message"]["blocks"][0]["text"]["text"] == "hi"


async def test_unknown_methods_and_bad_tokens_are_answered_like_slack(slack: SlackSandbox) -> None:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
    with pytest.raises(SlackApiError) as caught:
        await client.api_call("chat.shout")
    assert caught.value.response["error"] == "unknown_method"
    with pytest.raises(SlackApiError) as caught:
        await AsyncWebClient(token="xoxb-wrong", base_url=slack.base_url).auth_test()
    assert caught.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as caught:
        await AsyncWebClient(base_url=slack.base_url).api_call("auth.test")
    assert caught.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as caught:
        await client.apps_connections_open(app_token=slack.bot_token)
    assert caught.value.response["error"] == "not_allowed_token_type"
    assert kinds(slack) == ["unknown_method", "wrong_token"]
    slack.violations.clear()


async def test_auth_test_answers_the_granted_scopes_in_a_header(
    client: AsyncWebClient, slack: SlackSandbox
) -> None:
    response = await client.auth_test()
    assert response["user_id"] == slack.bot_user_id
    assert "chat:write" in response.headers["X-OAuth-Scopes"].split(",")


async def test_a_missing_scope_names_what_is_needed() -> None:
    async with SlackSandbox(bot_scopes=["chat:write"]) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
        with pytest.raises(SlackApiError) as caught:
            await client.users_list()
        assert caught.value.response["error"] == "missing_scope"
        assert caught.value.response["needed"] == "users:read"
        assert caught.value.response["provided"] == "chat:write"


async def test_invalid_message_blocks_are_refused(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    channel = slack.add_channel("general", bot=True)
    too_long = [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel=channel, text="t", blocks=too_long)
    assert caught.value.response["error"] == "invalid_blocks"
    many = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel=channel, text="t", blocks=many)
    duplicate = [{"type": "divider", "block_id": "a"}, {"type": "divider", "block_id": "a"}]
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel=channel, text="t", blocks=duplicate)
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(
            channel=channel, text="t", blocks=[{"type": "section", "txt": "typo"}]
        )
    assert kinds(slack) == ["invalid_blocks"] * 4
    assert slack.messages(channel) == []
    slack.violations.clear()


async def test_unescaped_broadcasts_are_recorded(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    channel = slack.add_channel("general", bot=True)
    await client.chat_postMessage(channel=channel, text="Incident declared <!channel>")
    assert kinds(slack) == ["unescaped_broadcast"]
    slack.violations.clear()


async def test_an_injected_rate_limit_surfaces_retry_after(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    slack.inject_rate_limit("users.list", retry_after=7)
    with pytest.raises(SlackApiError) as caught:
        await client.users_list()
    assert caught.value.response.status_code == 429
    assert caught.value.response["error"] == "ratelimited"
    assert caught.value.response.headers["Retry-After"] == "7"
    assert (await client.users_list())["ok"]


async def test_tier_limits_apply_when_enforced() -> None:
    async with SlackSandbox(enforce_rate_limits=True) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
        for _ in range(20):  # conversations.list is Tier 2: 20 per minute
            await client.conversations_list()
        with pytest.raises(SlackApiError) as caught:
            await client.conversations_list()
        assert int(caught.value.response.headers["Retry-After"]) >= 1


async def test_only_documented_errors_can_be_injected(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    with pytest.raises(ValueError, match="not a documented error"):
        slack.inject_error("chat.postMessage", "hash_conflict")
    slack.inject_error("users.list", "fatal_error", times=1)
    with pytest.raises(SlackApiError) as caught:
        await client.users_list()
    assert caught.value.response["error"] == "fatal_error"
    assert (await client.users_list())["ok"]


async def test_every_request_is_recorded(slack: SlackSandbox, client: AsyncWebClient) -> None:
    await client.auth_test()
    await client.users_list()
    await client.users_list()
    assert len(slack.calls("users.list")) == 2
    assert slack.calls("auth.test")[0].ok
