"""The benches start the sandbox without its inline Block Kit schema check (it ran in the bench's
own event loop and held every other call back); what the bot sent is checked afterwards with the
same checker. That check must still find what the strict sandbox would have refused."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bench.harness import bench_sandbox, block_kit_problems


async def test_blocks_and_views_are_checked_after_the_timed_part() -> None:
    async with bench_sandbox() as slack:
        channel = slack.add_channel("bench", bot=True)
        user = slack.add_user("someone")
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
        good = [{"type": "section", "text": {"type": "mrkdwn", "text": "fine"}}]
        bad = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "colour": "red"}]
        await client.chat_postMessage(channel=channel, text="ok", blocks=good)
        assert block_kit_problems(slack) == []

        # Accepted as it arrives (the schema is not checked inline)...
        await client.chat_postMessage(channel=channel, text="odd", blocks=bad)
        await client.views_publish(user_id=user, view={"type": "home", "blocks": bad})
        # ...and found afterwards, for the message and for the Home.
        problems = block_kit_problems(slack)
        assert [p.split(":")[0] for p in problems] == ["chat.postMessage", "views.publish"]
