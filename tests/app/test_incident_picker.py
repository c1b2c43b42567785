"""The shared "this channel's incident, else the incident picker" flow (handlers/picker.py), seen
through ``/incident cost``: the other subcommands using it (followup, postmortem, page) are covered
in their own tests. Real Bolt app, Slack sandbox and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.blocks.ids import BlockId, CallbackId
from sandbox.slack import SlackSandbox
from storage import models
from tests.app.test_timeline_corrections import modal
from tests.workspace import Workspace, declare_and_wait


def ephemerals_in(slack: SlackSandbox, user: str, channel: str, text: str) -> list[str]:
    shown = [slack.render_message(e) for e in slack.ephemerals(user, channel)]
    return [t for t in shown if text in t]


async def test_a_cost_typed_outside_an_incident_channel_goes_to_the_picked_one_and_answers_there(
    bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    incident = await declare_and_wait(bot, ws)
    general = slack.add_channel("general", members=[ws.alice])

    await slack.run_slash_command(
        ws.alice, "/incident", "cost 250 EUR refunds partial refunds", general
    )
    picker = await modal(slack, ws.alice, CallbackId.PICK_COST_INCIDENT_MODAL)
    assert "Add the cost to which incident?" in slack.render_blocks(picker.payload["blocks"])
    ack = await slack.submit_view(
        ws.alice, picker.id, {BlockId.PICK_INCIDENT: {BlockId.PICK_INCIDENT: str(incident.id)}}
    )

    assert ack.acked and not ack.errors
    # The answer goes back through the command's response_url: in #general, not by DM.
    [added] = await slack.wait_for(lambda: ephemerals_in(slack, ws.alice, general, "Cost added"))
    assert "250.00 EUR" in added
    assert not [m for m in slack.dms(ws.alice) if m.user == slack.bot_user_id]
    stored = await models.CostEntry.filter(incident_id=incident.id)
    assert [(Decimal(c.amount), c.currency, c.kind, c.note) for c in stored] == [
        (Decimal("250.00"), "EUR", "refunds", "partial refunds")
    ]


async def test_a_cost_typed_outside_an_incident_channel_with_no_incident_says_so_without_a_picker(
    bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    general = slack.add_channel("general", members=[ws.alice])

    await slack.run_slash_command(ws.alice, "/incident", "cost", general)

    await slack.wait_for(
        lambda: ephemerals_in(slack, ws.alice, general, "no incident you can add a cost to")
    )
    assert slack.views(ws.alice) == []
    assert await models.CostEntry.all().count() == 0
