"""A declaration through the service reaches Slack through the outbox: channel, members, pinned
summary, topic, announcement — exactly once."""

from __future__ import annotations

from bot.domain.declaration import Declaration
from bot.domain.incident import Actor
from sandbox.slack import SlackSandbox
from storage.repository import IncidentRepository


def payments_outage(**changes: object) -> Declaration:
    values: dict[str, object] = {
        "title": "Card payments failing at checkout",
        "summary": "Most card payments are refused since 14:02, wallets still work.",
        "impacts": {"business": "medium", "customers": "medium"},
        "category": "payments",
        "environments": ("PRD",),
    }
    values.update(changes)
    return Declaration(**values)  # type: ignore[arg-type]


async def test_a_p2_declaration_opens_a_ready_channel_and_announces_it(bot, slack: SlackSandbox):
    alice = slack.add_user("alice")
    lead = slack.add_user("paylead")
    slack.add_usergroup("payments-oncall", [lead])
    incidents = slack.add_channel("incidents", bot=True)

    declared = await bot.service.declare(
        payments_outage(), by=Actor.user(alice), intent_key="view-1"
    )

    incident = declared.incident
    await slack.wait_for(lambda: slack.calls("pins.add") and slack.messages(incidents), timeout=5)
    stored = await IncidentRepository().require(incident.id)
    assert stored.channel_id is not None
    assert stored.channel_name.endswith("-1-card-payments-failing-at-checkout")
    assert len(slack.calls("conversations.create")) == 1
    assert len(slack.messages(incidents)) == 1
    await slack.wait_for(lambda: lead in slack.channels[stored.channel_id].members, timeout=5)
