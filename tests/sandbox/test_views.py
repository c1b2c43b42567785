"""Modals follow Slack's state machine: triggers, hashes, the 3-view stack."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import SlackSandbox


def modal(title: str = "Declare") -> dict[str, object]:
    return {
        "type": "modal",
        "callback_id": "declare",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Go"},
        "blocks": [
            {
                "type": "input",
                "block_id": "title",
                "label": {"type": "plain_text", "text": "Title"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
    }


async def error_of(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(SlackApiError) as caught:
        await call
    return str(caught.value.response["error"])


async def test_a_trigger_works_once_and_expires(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    alice = slack.add_user("alice")
    trigger = slack.ws.new_trigger(alice)
    opened = await client.views_open(trigger_id=trigger, view=modal())
    assert opened["view"]["hash"] and opened["view"]["id"].startswith("V")
    assert (
        await error_of(client.views_open(trigger_id=trigger, view=modal()))
        == "exchanged_trigger_id"
    )
    late = slack.ws.new_trigger(alice)
    await asyncio.sleep(0.6)  # the fixture's trigger_ttl is 0.5 s (Slack: 3 s)
    assert await error_of(client.views_open(trigger_id=late, view=modal())) == "expired_trigger_id"
    assert (
        await error_of(client.views_open(trigger_id="nonsense", view=modal()))
        == "invalid_trigger_id"
    )


async def test_a_stale_hash_is_a_conflict(slack: SlackSandbox, client: AsyncWebClient) -> None:
    alice = slack.add_user("alice")
    opened = (await client.views_open(trigger_id=slack.ws.new_trigger(alice), view=modal()))["view"]
    updated = (
        await client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("Two"))
    )["view"]
    assert updated["hash"] != opened["hash"]
    stale = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("Three"))
    assert await error_of(stale) == "hash_conflict"
    assert await error_of(client.views_update(view_id="VNOPE", view=modal())) == "not_found"
    assert slack.views(alice)[-1].payload["title"]["text"] == "Two"


async def test_the_stack_holds_three_views(slack: SlackSandbox, client: AsyncWebClient) -> None:
    alice = slack.add_user("alice")
    await client.views_open(trigger_id=slack.ws.new_trigger(alice), view=modal("One"))
    await client.views_push(trigger_id=slack.ws.new_trigger(alice), view=modal("Two"))
    await client.views_push(trigger_id=slack.ws.new_trigger(alice), view=modal("Three"))
    fourth = client.views_push(trigger_id=slack.ws.new_trigger(alice), view=modal("Four"))
    assert await error_of(fourth) == "push_limit_reached"
    assert [v.payload["title"]["text"] for v in slack.views(alice)] == ["One", "Two", "Three"]


async def test_invalid_or_huge_views_are_refused(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    alice = slack.add_user("alice")
    long_title = modal("A title that is far too long for a modal")
    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id=slack.ws.new_trigger(alice), view=long_title)
    assert caught.value.response["error"] == "invalid_arguments"
    assert "json-pointer:/view/title" in caught.value.response["response_metadata"]["messages"][0]
    huge = modal()
    huge["private_metadata"] = "x" * 260_000
    assert (
        await error_of(client.views_open(trigger_id=slack.ws.new_trigger(alice), view=huge))
        == "view_too_large"
    )
    assert [v.kind for v in slack.violations] == ["invalid_view"]
    slack.violations.clear()


async def test_home_views_are_published_per_user(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    alice = slack.add_user("alice")
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "No incident"}}],
    }
    first = (await client.views_publish(user_id=alice, view=home))["view"]
    second = (await client.views_publish(user_id=alice, view=home, hash=first["hash"]))["view"]
    assert second["id"] == first["id"] and second["hash"] != first["hash"]
    assert (
        await error_of(client.views_publish(user_id=alice, view=home, hash=first["hash"]))
        == "hash_conflict"
    )
    view = slack.home_view(alice)
    assert view is not None and slack.render_blocks(view.payload["blocks"]) == "No incident"
