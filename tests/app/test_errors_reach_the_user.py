"""Every failure reaches the person who acted: an ephemeral reply, or a DM where there is no channel."""

from __future__ import annotations

import logging

import pytest

from bot.domain.errors import UserFacingError
from sandbox.slack import SlackSandbox


async def test_a_slack_failure_while_publishing_home_is_apologised_for_with_a_reference(
    bot, slack: SlackSandbox, caplog: pytest.LogCaptureFixture
):
    alice = slack.add_user("alice")
    slack.inject_error("views.publish", "not_enabled")

    with caplog.at_level(logging.ERROR, logger="firefighter.errors"):
        await slack.open_app_home(alice)
        await slack.wait_for(lambda: slack.dms(alice))

    text = slack.render_message(slack.dms(alice)[0])
    assert "something went wrong on our side" in text
    reference = text.split("`")[-2]
    failures = [r for r in caplog.records if r.getMessage() == "listener failed"]
    assert [getattr(r, "reference", None) for r in failures] == [reference]


async def test_a_refusal_before_the_ack_is_shown_and_the_shortcut_is_still_acknowledged(
    bot, slack: SlackSandbox
):
    alice = slack.add_user("alice")

    @bot.app.shortcut("test.refused")
    async def refuse(ack: object) -> None:
        raise UserFacingError("You cannot do that here: reason given to the user.")

    ack = await slack.run_global_shortcut(alice, "test.refused")

    assert ack.acked
    await slack.wait_for(lambda: slack.dms(alice))
    assert "reason given to the user" in slack.render_message(slack.dms(alice)[0])
    assert slack.user_errors == []


async def test_a_refusal_in_a_channel_is_ephemeral(bot, slack: SlackSandbox):
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice], bot=True)
    ts = await slack.post_message(alice, general, "the checkout is down")

    @bot.app.message_shortcut("test.refused_here")
    async def refuse(ack: object) -> None:
        raise UserFacingError("Not allowed on this message.")

    await slack.run_message_shortcut(alice, "test.refused_here", general, ts)

    await slack.wait_for(lambda: slack.ephemerals(alice, general))
    assert "Not allowed on this message." in slack.render_message(
        slack.ephemerals(alice, general)[0]
    )
    assert slack.dms(alice) == []
