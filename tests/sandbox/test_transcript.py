"""Reading the sandbox: rendered Block Kit, snapshots, response_urls."""

from __future__ import annotations

import json

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import SlackSandbox


def test_blocks_render_as_readable_text(slack: SlackSandbox) -> None:
    alice = slack.add_user("alice")
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Incident #42"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"Commander <@{alice}>"},
            "fields": [{"type": "mrkdwn", "text": "*Priority* P1"}],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "<https://x.test/1|Jira>"}]},
        {
            "type": "input",
            "label": {"type": "plain_text", "text": "Summary"},
            "element": {"type": "plain_text_input", "action_id": "a"},
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Resolve"},
                    "action_id": "r",
                }
            ],
        },
    ]
    assert slack.render_blocks(blocks) == (
        "# Incident #42\nCommander @alice\n  *Priority* P1\n  Jira (https://x.test/1)\nSummary: ____\n[Resolve]"
    )


async def test_a_snapshot_is_json(slack: SlackSandbox, client: AsyncWebClient) -> None:
    alice = slack.add_user("alice")
    channel = (await client.conversations_create(name="inc-9"))["channel"]["id"]
    await client.conversations_invite(channel=channel, users=alice)
    await client.chat_postMessage(channel=channel, text="hello")
    snapshot = json.loads(json.dumps(slack.snapshot()))
    [inc] = [c for c in snapshot["channels"] if c["name"] == "inc-9"]
    assert inc["members"] == [slack.bot_user_id, alice]
    assert inc["messages"][-1]["text"] == "hello"
    assert snapshot["request_count"] == 3 and snapshot["violations"] == []


async def test_a_response_url_works_five_times(slack: SlackSandbox) -> None:
    alice = slack.add_user("alice")
    channel = slack.add_channel("general", members=[alice])
    url = slack.new_response_url(alice, channel)
    async with aiohttp.ClientSession() as session:
        statuses = []
        for i in range(6):
            async with session.post(url, json={"text": f"update {i}"}) as response:
                statuses.append(response.status)
    assert statuses == [200] * 5 + [404]
    assert len(slack.ephemerals(alice, channel)) == 5
    assert [v.kind for v in slack.violations] == ["response_url_exhausted"]
    slack.violations.clear()
