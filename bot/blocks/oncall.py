"""Block Kit for on-call and paging: ``/incident oncall``, the answer to ``/incident page``, and the
on-call section of the declare modal (filled with ``views.update`` once PagerDuty answered).

PagerDuty's people are matched with Slack accounts by e-mail: a match is shown as a mention, anyone
else by name with "no Slack account", never dropped. Names and schedules come from PagerDuty and
are escaped like user text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from bot.blocks.help import Message
from bot.blocks.ids import CallbackId
from bot.blocks.text import escape, local_time, truncate
from bot.config import PagerDutyService
from bot.domain.incident import Incident
from bot.page import PageView, ServiceOnCall, service_name

Block = dict[str, Any]

SECTION_MAX = 3000
MAX_SECTIONS = 40
"""Services listed in one message (each is a section; a message holds 50 blocks)."""
ONCALL_BLOCK_ID = "declare.oncall"
"""The declare modal's on-call section (its position says what it is; nothing reads it back)."""
PAGERDUTY_OFF = "PagerDuty is not configured for FireFighter: there is no on-call to show or page."
PICK_PAGE_INCIDENT_CALLBACK = CallbackId.PICK_PAGE_INCIDENT_MODAL
"""The incident picker of ``/incident page`` outside an incident channel (its id lives in ids.py)."""


def _section(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    return block


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _person(name: str, slack_id: str | None) -> str:
    if slack_id:
        return f"<@{slack_id}>"
    return f"{escape(name)} _(no Slack account with their e-mail)_"


def _levels(answer: ServiceOnCall, tz: ZoneInfo | None) -> list[str]:
    assert answer.on_call is not None
    lines: list[str] = []
    for level in sorted({s.level for s in answer.on_call.shifts}):
        people = []
        for shift in (s for s in answer.on_call.shifts if s.level == level):
            detail = []
            if shift.schedule:
                detail.append(escape(shift.schedule))
            if shift.end is not None and tz is not None:
                detail.append(f"until {local_time(shift.end, tz)}")
            extra = f" ({', '.join(detail)})" if detail else ""
            people.append(_person(shift.user.name, answer.slack_id(shift.user.email)) + extra)
        lines.append(f"Level {level}: " + ", ".join(people))
    return lines


def service_oncall_text(answer: ServiceOnCall, tz: ZoneInfo | None = None) -> str:
    """One service: its escalation policy, then each level with who is on call now."""
    name = escape(service_name(answer.service))
    if answer.on_call is None:
        return f"*{name}*: :warning: {escape(answer.problem or 'PagerDuty did not answer')}."
    policy = escape(answer.on_call.escalation_policy_name or answer.on_call.escalation_policy_id)
    head = f"*{name}* · escalation policy _{policy}_"
    if not answer.on_call.shifts:
        return f"{head}\nNobody is on call right now: a page would notify nobody."
    return truncate("\n".join([head, *_levels(answer, tz)]), SECTION_MAX)


def oncall_message(
    answers: Sequence[ServiceOnCall], *, tz: ZoneInfo, heading: str, command: str
) -> Message:
    """``/incident oncall``: who is on call now, service by service."""
    blocks: list[Block] = [_section(f"*{escape(heading)}*")]
    if not answers:
        blocks.append(_section("No PagerDuty service is configured for it."))
    for answer in answers[:MAX_SECTIONS]:
        blocks.append(_section(service_oncall_text(answer, tz)))
    if len(answers) > MAX_SECTIONS:
        blocks.append(_context(f"{len(answers) - MAX_SECTIONS} more services not shown."))
    blocks.append(_context(f"Page them with `{command} page [service]` in an incident channel."))
    return {"response_type": "ephemeral", "text": heading, "blocks": blocks}


def oncall_modal_blocks(
    answers: Sequence[ServiceOnCall], *, priority: str, category: str, tz: ZoneInfo
) -> list[Block]:
    """The declare modal's on-call section (a priority paged automatically at declaration)."""
    if not answers:
        return []
    intro = (
        f":rotating_light: *{escape(priority)} pages on-call at declaration* ({escape(category)}):"
    )
    parts = [intro, *(service_oncall_text(a, tz) for a in answers)]
    return [_section(truncate("\n".join(parts), SECTION_MAX), ONCALL_BLOCK_ID)]


def oncall_loading_blocks(services: Sequence[PagerDutyService], *, priority: str) -> list[Block]:
    """What the modal shows while PagerDuty is asked who is on call (it never waits for it)."""
    if not services:
        return []
    names = ", ".join(escape(service_name(s)) for s in services)
    return [
        _section(
            f":rotating_light: *{escape(priority)} pages on-call at declaration* ({names}): "
            "_asking PagerDuty who is on call…_",
            ONCALL_BLOCK_ID,
        )
    ]


def page_reply_message(incident: Incident, pages: Sequence[PageView]) -> Message:
    """The answer to ``/incident page``: what is being paged now, what was paged already."""
    lines = []
    for page in pages:
        name = escape(page.service)
        if page.new:
            lines.append(
                f":rotating_light: Paging *{name}* for {incident.reference}: the channel will "
                "show who PagerDuty notified."
            )
            continue
        where = f"<{page.url}|{page.reference}>" if page.url else page.reference
        state = page.status
        if page.acknowledged_by and page.status == "acknowledged":
            state = f"acknowledged by {escape(page.acknowledged_by)}"
        elif page.status == "requested":
            state = "being sent"
        lines.append(
            f"*{name}* is already paged for {incident.reference} ({where}, {state}): "
            "nothing was sent again."
        )
    text = "\n".join(lines) or f"Nothing to page for {incident.reference}."
    return {
        "response_type": "ephemeral",
        "text": truncate(text, SECTION_MAX),
        "blocks": [_section(truncate(text, SECTION_MAX))],
    }


def unknown_service_message(
    given: str, services: Sequence[PagerDutyService], command: str
) -> Message:
    """``/incident page nosuch``: the services that exist."""
    known = "\n".join(
        f"• `{escape(s.key)}`: {escape(service_name(s))}" for s in services[:MAX_SECTIONS]
    )
    text = (
        f":warning: `{escape(truncate(given, 60))}` is not a PagerDuty service FireFighter knows."
    )
    if known:
        body = f"{text} Page one of these with `{command} page <service>`:\n{known}"
    else:
        body = f"{text} No PagerDuty service is configured (`pagerduty.services` in the catalog)."
    return {
        "response_type": "ephemeral",
        "text": text,
        "blocks": [_section(truncate(body, SECTION_MAX))],
    }
