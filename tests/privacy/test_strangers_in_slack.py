"""The access policy as a stranger meets it in Slack (the table in test_access_policy_everywhere.py
covers every surface at the service): the App Home's incident menu opens no form for someone who
may not act, and 📌 / 📣 from someone outside the incident are refused in words, changing
nothing."""

from __future__ import annotations

from typing import Any

from bot.blocks.ids import ActionId
from bot.domain.incident import TimelineKind
from sandbox.slack import SlackSandbox
from storage import models
from tests.workspace import Workspace, declare_and_wait, outbox_idle


def told(slack: SlackSandbox, user: str) -> list[str]:
    """What the bot showed ``user`` (ephemerals and DMs)."""
    shown = [slack.render_message(e) for e in slack.ephemerals(user)]
    shown += [slack.render_message(m) for m in slack.dms(user) if m.user == slack.bot_user_id]
    return shown


async def test_a_stranger_s_home_menu_opens_no_form_and_says_who_may(
    bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(bot, ws)
    await slack.open_app_home(ws.bob)
    await slack.wait_for(
        lambda: (
            slack.home_view(ws.bob) is not None
            and incident.title
            in str(
                slack.home_view(ws.bob).payload  # type: ignore[union-attr]
            )
        )
    )
    home = slack.home_view(ws.bob)
    assert home is not None

    for number, kind in enumerate(("update", "note", "close"), start=1):
        await slack.click_button(
            ws.bob,
            ActionId.HOME_INCIDENT_MENU,
            view_id=home.id,
            value=f"{incident.id}:{kind}",
            block_id=f"home.incident.open.{incident.id}",
        )
        refusals = await slack.wait_for(
            lambda n=number: [t for t in told(slack, ws.bob) if "may" in t][n - 1 :] or None
        )
        assert incident.reference in refusals[0]
    assert slack.views(ws.bob) == []


async def test_a_stranger_s_pin_and_megaphone_are_refused_and_change_nothing(
    bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(bot, ws)
    channel = incident.channel_id
    assert channel is not None and ws.bob not in slack.channels[channel].members
    ts = await slack.post_message(ws.alice, channel, "Rolled back to v41")
    entries = await models.TimelineEntry.filter(incident_id=incident.id).count()

    await slack.add_reaction(ws.bob, channel, ts, "pushpin")
    await slack.add_reaction(ws.bob, channel, ts, "mega")

    refusals = await slack.wait_for(
        lambda: (found := [t for t in told(slack, ws.bob) if "may" in t])[1:] and found
    )
    assert all(incident.reference in t for t in refusals)
    await outbox_idle()
    assert await models.TimelineEntry.filter(incident_id=incident.id).count() == entries
    kinds = await models.TimelineEntry.filter(incident_id=incident.id).values_list(
        "kind", flat=True
    )
    assert TimelineKind.PINNED_MESSAGE.value not in kinds
