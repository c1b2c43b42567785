"""Costs and reports from Slack (PRODUCT.md §1 "Costs", §2 "Reports in Slack"): the ``cost``,
``stats`` and ``export`` subcommands and the picker of ``cost`` outside an incident channel.

The argument is parsed before the ack (pure and fast), so bad input is answered at once with the
usage; the queries, the chart and the uploads run after the ack."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.blocks.ids import CallbackId
from bot.blocks.report import (
    cost_added_message,
    costs_message,
    export_message,
    stats_message,
    usage_message,
)
from bot.domain.cost import CostDraft, CostInvalid, parse_cost
from bot.domain.incident import Actor, JsonValue
from bot.domain.stats import Period, PeriodInvalid
from bot.service import IncidentService
from handlers.background import Background
from handlers.command import CommandCall, CommandRouter
from handlers.picker import IncidentAction, Reply, incident_action

NO_INCIDENT = "There is no incident you can add a cost to."


def _draft_json(draft: CostDraft) -> dict[str, JsonValue]:
    """The cost as the picker carries it (``parse_cost`` reads it back)."""
    return {
        "amount": str(draft.amount),
        "currency": draft.currency,
        "kind": draft.kind,
        "note": draft.note,
    }


def register(
    app: AsyncApp, service: IncidentService, router: CommandRouter, background: Background
) -> None:
    command = service.catalog.slack.command

    # --- cost ----------------------------------------------------------------------------------

    async def add_or_list(
        incident_id: int,
        draft: CostDraft | None,
        user_id: str,
        intent_key: str,
        reply: Reply,
    ) -> None:
        if draft is None:
            incident, entries = await service.costs_of(incident_id, user_id=user_id)
            await reply(costs_message(incident, entries, service.timezone, command))
            return
        entry, totals = await service.add_cost(
            incident_id, draft, by=Actor.user(user_id), intent_key=intent_key
        )
        await reply(cost_added_message(await service.require(incident_id), entry, totals))

    def restore(extra: Mapping[str, Any]) -> CostDraft | None:
        raw = extra.get("cost")
        if not isinstance(raw, dict):
            return None
        return parse_cost(f"{raw['amount']} {raw['currency']} {raw['kind']} {raw.get('note', '')}")

    cost_here = incident_action(
        app,
        service,
        background,
        IncidentAction(
            action="cost",
            callback_id=CallbackId.PICK_COST_INCIDENT_MODAL,
            perform=add_or_list,
            prompt=lambda draft: "Add the cost to which incident?" if draft else "Whose costs?",
            no_incident=NO_INCIDENT,
            carry=lambda draft: {} if draft is None else {"cost": _draft_json(draft)},
            restore=restore,
        ),
    )

    async def handle_cost_command(call: CommandCall) -> None:
        draft: CostDraft | None = None
        if call.argument.strip():
            try:
                draft = parse_cost(call.argument)
            except CostInvalid as invalid:
                await call.ack(usage_message(invalid.message))
                return
        await call.ack()
        call.later(cost_here(call, draft))

    router.add(
        "cost",
        "cost [<amount> <currency> <type> [note]]",
        "Add a cost (lost revenue, refunds…) to the incident, or list its costs",
        handle_cost_command,
    )

    # --- stats and export ----------------------------------------------------------------------

    async def show_stats(call: CommandCall, period: Period) -> None:
        stats = await service.stats(call.user_id, period)
        message = stats_message(
            stats,
            tz=service.timezone,
            styles=service.priority_styles,
            category_names=service.category_names,
        )
        await call.respond(
            text=message["text"], blocks=message["blocks"], response_type="ephemeral"
        )
        await service.send_chart(stats, user_id=call.user_id, channel_id=call.channel_id)

    def period_command(
        name: str, perform: Callable[[CommandCall, Period], Coroutine[Any, Any, None]]
    ) -> Callable[[CommandCall], Awaitable[None]]:
        """``/incident <name> [period]``: a wrong period is answered with the usage at the ack."""

        async def handle_period_command(call: CommandCall) -> None:
            try:
                period = service.parse_period(call.argument, command=name)
            except PeriodInvalid as invalid:
                await call.ack(usage_message(invalid.message))
                return
            await call.ack()
            call.later(perform(call, period))

        return handle_period_command

    router.add(
        "stats",
        "stats [7d|30d|90d|12w|YYYY-MM]",
        "Counts, MTTA/MTTM/MTTC by priority and category, costs, trend and a chart",
        period_command("stats", show_stats),
    )

    async def send_export(call: CommandCall, period: Period) -> None:
        csv_text, count = await service.export(call.user_id, period)
        await service.send_export(csv_text, period, user_id=call.user_id)
        message = export_message(period, count)
        await call.respond(
            text=message["text"], blocks=message["blocks"], response_type="ephemeral"
        )

    router.add(
        "export",
        "export [7d|30d|90d|12w|YYYY-MM]",
        "A CSV of the incidents of the period, sent to you by direct message",
        period_command("export", send_export),
    )
