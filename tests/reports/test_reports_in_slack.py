"""Costs, stats, exports and the weekly digest through the real Bolt app, the sandbox's external
file upload flow and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.domain.cost import CostInvalid, parse_cost
from bot.domain.incident import Actor, Incident, TimelineKind
from bot.domain.stats import last_week
from bot.wiring import build_scheduler, build_service
from sandbox.slack import SlackSandbox
from storage import models
from storage.repository import TimelineRepository
from tests.reports.test_cost_and_stats_rules import _png_pixels
from tests.workspace import Workspace, declare_and_wait, eventually, outage, outbox_idle


def ephemeral_texts(slack: SlackSandbox, user: str) -> list[str]:
    return [slack.render_message(e) for e in slack.ephemerals(user)]


async def shown_to(slack: SlackSandbox, user: str, text: str) -> str:
    async def found() -> str | None:
        return next((t for t in ephemeral_texts(slack, user) if text in t), None)

    return await eventually(found)


def uploaded(slack: SlackSandbox, suffix: str) -> list[Any]:
    return [f for f in slack.files.values() if f.name.endswith(suffix) and f.content]


async def backdate(incident: Incident, at: datetime) -> None:
    """Move an incident's declaration (and its milestones) back in time."""
    shift = at - incident.created_at
    row = await models.Incident.get(id=incident.id)
    changes: dict[str, Any] = {"created_at": at}
    for name in ("started_at", "detected_at", "declared_at", "acknowledged_at", "mitigated_at"):
        value = getattr(row, name)
        if value is not None:
            changes[name] = value + shift
    await models.Incident.filter(id=incident.id).update(**changes)


async def test_a_cost_typed_in_the_incident_channel_is_recorded_listed_and_on_the_timeline(
    bot, slack: SlackSandbox, ws: Workspace
):
    incident = await declare_and_wait(bot, ws)
    channel = incident.channel_id
    assert channel is not None

    await slack.run_slash_command(
        ws.alice, "/incident", "cost 12000 EUR lost_revenue checkout down 2h", channel
    )
    added = await shown_to(slack, ws.alice, "Cost added")
    assert "12,000.00 EUR" in added and "lost_revenue" in added
    await slack.run_slash_command(ws.alice, "/incident", "cost 99.5 usd refunds", channel)
    await shown_to(slack, ws.alice, "99.50 USD")

    await slack.run_slash_command(ws.alice, "/incident", "cost", channel)
    listing = await shown_to(slack, ws.alice, "Costs of")
    assert "12,000.00 EUR" in listing and "99.50 USD" in listing and "checkout down 2h" in listing

    entries = await TimelineRepository().list(incident.id)
    costs = [e for e in entries if e.kind is TimelineKind.COST]
    assert len(costs) == 2 and costs[0].data["currency"] == "EUR"
    stored = await models.CostEntry.filter(incident_id=incident.id).order_by("id")
    assert [(Decimal(c.amount), c.currency, c.kind) for c in stored] == [
        (Decimal("12000.00"), "EUR", "lost_revenue"),
        (Decimal("99.50"), "USD", "refunds"),
    ]


async def test_a_bad_cost_or_period_is_answered_with_the_usage(
    bot, slack: SlackSandbox, ws: Workspace
):
    incident = await declare_and_wait(bot, ws)
    await slack.run_slash_command(ws.alice, "/incident", "cost -5 EUR refunds", incident.channel_id)
    await shown_to(slack, ws.alice, "cannot be negative")
    await slack.run_slash_command(ws.alice, "/incident", "cost 5 EURO refunds", incident.channel_id)
    await shown_to(slack, ws.alice, "not an ISO 4217 currency code")
    await slack.run_slash_command(ws.bob, "/incident", "stats banana")
    usage = await shown_to(slack, ws.bob, "is not a period")
    assert "`7d`, `30d` (the default), `90d`, `12w`" in usage
    assert not slack.calls("files.getUploadURLExternal")
    assert await models.CostEntry.all().count() == 0


async def test_the_service_adds_costs_once_per_intent_and_refuses_outsiders(bot, ws: Workspace):
    incident = await declare_and_wait(bot, ws)
    service = bot.service
    cost = parse_cost("40 GBP cloud_spend extra nodes")
    entry, totals = await service.add_cost(
        incident.id, cost, by=Actor.user(ws.alice), intent_key="k1"
    )
    assert entry.amount == Decimal("40.00") and totals == {"GBP": Decimal("40.00")}
    try:
        await service.add_cost(incident.id, cost, by=Actor.user(ws.alice), intent_key="k1")
    except Exception as error:
        assert "already recorded" in str(error)
    _, listed = await service.costs_of(incident.id, user_id=ws.alice)
    assert [c.id for c in listed] == [entry.id]
    try:
        parse_cost("40 GBP")
    except CostInvalid as invalid:
        assert "Usage" in invalid.message


async def test_stats_reply_ephemerally_and_upload_a_real_chart_through_the_external_flow(
    bot, slack: SlackSandbox, ws: Workspace
):
    incident = await declare_and_wait(bot, ws)
    await bot.service.add_cost(
        incident.id, parse_cost("500 EUR refunds"), by=Actor.user(ws.alice), intent_key="c"
    )
    outsider_channel = slack.add_channel("random", members=[ws.bob])

    await slack.run_slash_command(ws.bob, "/incident", "stats 7d", outsider_channel)

    stats = await shown_to(slack, ws.bob, "Incident stats: 7d")
    assert "1 incident" in stats and "500.00 EUR" in stats
    await slack.wait_for(lambda: any(m.files for m in slack.dms(ws.bob)), timeout=10)
    assert slack.calls("files.getUploadURLExternal")
    assert slack.calls("files.completeUploadExternal")
    png = uploaded(slack, ".png")[0]
    assert outsider_channel not in png.channels  # the bot is not in #random: sent by DM
    width, height, colours = _png_pixels(png.content)
    assert (width, height) == (900, 450) and len(colours) > 1


async def test_private_titles_are_counted_but_only_shown_to_members_in_stats_and_exports(
    bot, slack: SlackSandbox, ws: Workspace
):
    secret = await declare_and_wait(
        bot, ws, outage(private=True, title="Secret merger data exposed"), key="private"
    )
    public = await declare_and_wait(bot, ws, outage(title="Search is slow everywhere"), key="pub")

    await slack.run_slash_command(ws.bob, "/incident", "stats")
    seen_by_bob = await shown_to(slack, ws.bob, "Incident stats: 30d")
    assert "2 incidents" in seen_by_bob and "1 private" in seen_by_bob
    assert "Secret merger" not in seen_by_bob and "Search is slow everywhere" in seen_by_bob

    await slack.run_slash_command(ws.bob, "/incident", "export 7d")
    await shown_to(slack, ws.bob, "CSV file")
    await slack.run_slash_command(ws.alice, "/incident", "export 7d")
    await shown_to(slack, ws.alice, "CSV file")

    files = uploaded(slack, ".csv")
    assert len(files) == 2
    by_reader = {}
    for file in files:
        reader = next(
            user for user in (ws.alice, ws.bob) if any(file.id in m.files for m in slack.dms(user))
        )
        by_reader[reader] = list(csv.DictReader(io.StringIO(file.content.decode())))
    bob_rows = {int(r["id"]): r for r in by_reader[ws.bob]}
    alice_rows = {int(r["id"]): r for r in by_reader[ws.alice]}
    assert bob_rows[secret.id]["title"] == "(private)" and bob_rows[secret.id]["private"] == "true"
    assert bob_rows[public.id]["title"] == "Search is slow everywhere"
    assert alice_rows[secret.id]["title"] == "Secret merger data exposed"


async def test_the_weekly_digest_is_posted_once_with_two_schedulers(
    bot, slack: SlackSandbox, ws: Workspace, catalog
):
    incident = await declare_and_wait(bot, ws)
    _, period = last_week(datetime.now(UTC), bot.service.timezone)
    await backdate(incident, period.start + timedelta(days=2))
    second = build_service(catalog, chat=bot.chat, wake=bot.service.wake)
    schedulers = [build_scheduler(bot.service, catalog), build_scheduler(second, catalog)]
    jobs = [scheduler.get_job("post_weekly_digest") for scheduler in schedulers]
    assert all(job is not None for job in jobs)

    await asyncio.gather(
        *(job.func(*job.args) for job in jobs), *(job.func(*job.args) for job in jobs)
    )
    await outbox_idle()

    digests = [
        m
        for m in slack.messages(ws.incidents)
        if "Weekly incident digest" in slack.render_message(m)
    ]
    assert len(digests) == 1
    assert "1 incident" in slack.render_message(digests[0])
    charts = [f for f in uploaded(slack, ".png") if ws.incidents in f.channels]
    assert len(charts) == 1
    assert await models.OutboxItem.filter(kind="slack.digest").count() == 1
