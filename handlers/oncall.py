"""On-call and paging from Slack (PRODUCT.md §4 PagerDuty): ``/incident oncall [service]``,
``/incident page [service]`` (outside an incident channel, a picker asks which incident), and the
on-call section of the declare modal (``declare_oncall`` / ``fill_declare_oncall``, called by
handlers/declare.py).

What can be answered without I/O is answered in the ack (PagerDuty not configured, an unknown
service listing the known ones); everything that asks PagerDuty or the database runs after it. The
declare modal never waits for PagerDuty: it is updated first with "asking PagerDuty…", then again
once PagerDuty answered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import page as paging
from bot.blocks.declare import DeclarePrefill, declare_modal, preview_decision
from bot.blocks.help import error_message
from bot.blocks.oncall import (
    PAGERDUTY_OFF,
    PICK_PAGE_INCIDENT_CALLBACK,
    oncall_loading_blocks,
    oncall_message,
    oncall_modal_blocks,
    page_reply_message,
    unknown_service_message,
)
from bot.config import PagerDutyService
from bot.domain.incident import Actor, Incident
from bot.service import IncidentService
from handlers.background import Background
from handlers.command import CommandCall, CommandRouter
from handlers.picker import IncidentAction, Reply, incident_action

log = logging.getLogger("firefighter.pagerduty")

ONCALL_TIMEOUT_SECONDS = 8.0
"""How long the declare modal's on-call section waits for PagerDuty before saying it could not."""
_STALE_VIEW_ERRORS = frozenset({"hash_conflict", "not_found", "view_not_found"})
NO_INCIDENT = "There is no open incident you can page on-call for."


def _services_named(service: IncidentService, text: str) -> list[PagerDutyService] | None:
    """A service (key, name or PagerDuty id), or a category's services (key or name); None when
    the text names neither."""
    found = paging.find_service(service.catalog, text)
    if found is not None:
        return [found]
    wanted = text.strip().casefold()
    for category in service.catalog.categories:
        if wanted in {category.key.casefold(), category.name.casefold()}:
            return paging.services_of(service.catalog, category.key)
    return None


def declare_oncall(service: IncidentService, prefill: DeclarePrefill) -> list[Any] | None:
    """The declare modal's on-call section before PagerDuty answered: None when PagerDuty is off
    (the category then re-renders nothing), empty when the chosen priority does not page at
    declaration or the category pages no service, else "asking PagerDuty…"."""
    if service.pager is None:
        return None
    decision = preview_decision(service.catalog, prefill)
    if decision is None or prefill.category is None:
        return []
    if not paging.auto_pages(service.catalog, decision.priority):
        return []
    services = paging.services_of(service.catalog, prefill.category)
    return oncall_loading_blocks(services, priority=decision.priority.label)


async def fill_declare_oncall(
    service: IncidentService,
    client: AsyncWebClient,
    view: dict[str, Any],
    prefill: DeclarePrefill,
    recent: list[Incident],
) -> None:
    """Show who is on call in the declare modal ``view`` (as ``views.update`` returned it),
    unless the person changed the modal meanwhile (its hash moved on: their change re-renders)."""
    decision = preview_decision(service.catalog, prefill)
    if decision is None or prefill.category is None:
        return
    services = paging.services_of(service.catalog, prefill.category)
    try:
        answers = await asyncio.wait_for(service.on_call(services), ONCALL_TIMEOUT_SECONDS)
    except TimeoutError:
        answers = [
            paging.ServiceOnCall(s, None, problem="PagerDuty did not answer in time")
            for s in services
        ]
    try:
        category = service.catalog.category(prefill.category).name
    except KeyError:
        category = prefill.category
    blocks = oncall_modal_blocks(
        answers, priority=decision.priority.label, category=category, tz=service.timezone
    )
    modal = declare_modal(service.catalog, prefill, recent=recent, oncall=blocks)
    try:
        await client.views_update(view_id=view["id"], hash=view.get("hash"), view=modal)
    except SlackApiError as exc:
        if exc.response.get("error") not in _STALE_VIEW_ERRORS:
            raise
        log.info("declare modal changed before on-call was shown")


def register(
    app: AsyncApp, service: IncidentService, router: CommandRouter, background: Background
) -> None:
    command = service.catalog.slack.command

    # --- /incident oncall [service | category] --------------------------------------------------

    async def handle_oncall_command(call: CommandCall) -> None:
        if service.pager is None:
            await call.ack(error_message(PAGERDUTY_OFF))
            return
        named: list[PagerDutyService] | None = None
        if call.argument.strip():
            named = _services_named(service, call.argument)
            if named is None:
                await call.ack(
                    unknown_service_message(
                        call.argument, service.catalog.pagerduty.services, command
                    )
                )
                return
        await call.ack()
        call.later(show_oncall(call, named))

    async def show_oncall(call: CommandCall, named: list[PagerDutyService] | None) -> None:
        incident = await service.incident_in_channel(call.channel_id)
        if named is not None:
            services, heading = named, "On call now"
        elif incident is not None:
            services = paging.services_of(service.catalog, incident.category)
            heading = f"On call now for {incident.reference}"
        else:
            services = list(service.catalog.pagerduty.services)
            heading = "On call now, every PagerDuty service"
        answers = await service.on_call(services)
        message = oncall_message(answers, tz=service.timezone, heading=heading, command=command)
        await call.respond(**message)

    router.add(
        "oncall",
        "oncall [service]",
        "Who is on call now, level by level (the incident's services here, else every service)",
        handle_oncall_command,
    )

    # --- /incident page [service] ---------------------------------------------------------------

    async def page(
        incident_id: int, keys: list[str] | None, user_id: str, intent_key: str, reply: Reply
    ) -> None:
        pages = await service.page(incident_id, keys, by=Actor.user(user_id), intent_key=intent_key)
        await reply(page_reply_message(await service.require(incident_id), pages))

    def restore(extra: Mapping[str, Any]) -> list[str] | None:
        keys = extra.get("keys")
        return [str(k) for k in keys] if isinstance(keys, list) and keys else None

    page_here = incident_action(
        app,
        service,
        background,
        IncidentAction(
            action="page",
            callback_id=PICK_PAGE_INCIDENT_CALLBACK,
            perform=page,
            prompt=lambda _: "Page on-call for which incident?",
            no_incident=NO_INCIDENT,
            carry=lambda keys: {"keys": list(keys or [])},
            restore=restore,
            include_closed=False,
            offered=lambda incident: incident.is_open,
        ),
    )

    async def handle_page_command(call: CommandCall) -> None:
        if service.pager is None:
            await call.ack(error_message(PAGERDUTY_OFF))
            return
        keys: list[str] | None = None
        if call.argument.strip():
            found = paging.find_service(service.catalog, call.argument)
            if found is None:
                await call.ack(
                    unknown_service_message(
                        call.argument, service.catalog.pagerduty.services, command
                    )
                )
                return
            keys = [found.key]
        await call.ack()
        call.later(page_here(call, keys))

    router.add(
        "page",
        "page [service]",
        "Page on-call in PagerDuty (the category's services, or the one named); once per service",
        handle_page_command,
    )
