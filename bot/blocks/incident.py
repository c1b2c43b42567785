"""The messages about one incident (PRODUCT.md §2 "The incident channel", "Announcements").

Pure builders returning ``{"text": fallback, "blocks": [...]}``; the fallback text is always set
and says the essential (it is what notifications show). User text (titles, summaries, notes, closure
references, error texts) is escaped everywhere, fallback included, so it can never ping
``@channel``/``@here``, forge a mention or disguise a link. Times are shown in the configured zone.

Buttons opening an incident modal follow one convention: ``action_id`` is
``f"{ActionId.OPEN_MODAL}.{modal}"`` (Slack wants action ids unique within a block, and all the
buttons sit in one actions block) and ``value`` is ``f"{incident.id}:{modal}"``; a listener matches
them all with ``re.compile(rf"^{re.escape(ActionId.OPEN_MODAL)}(\\..+)?$")`` and reads the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.blocks.home import PriorityStyle
from bot.blocks.ids import ActionId, BlockId
from bot.blocks.text import duration, escape, local_time, localize_times
from bot.blocks.timeline import entry_menu
from bot.domain.incident import (
    Actor,
    ClosureReason,
    Incident,
    Milestone,
    Status,
    TimelineEntry,
    TimelineKind,
)
from bot.domain.metrics import Metric, metrics_of
from bot.domain.milestones import label
from bot.domain.timeline import struck_reason

Message = dict[str, Any]
Block = dict[str, Any]

MAX_MESSAGE_BLOCKS = 50
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
TOPIC_MAX = 250
FALLBACK_MAX = 3000
"""Fallback ``text`` is kept short: ``chat.update`` refuses more than 4,000 characters."""

SUMMARY_MODALS: tuple[tuple[str, str], ...] = (
    ("update", "Update"),
    ("status", "Status"),
    ("roles", "Roles"),
    ("note", "Note"),
    ("close", "Close"),
)
"""The (modal, button text) of the pinned summary's actions while the incident is open."""
CLOSED_MODALS: tuple[tuple[str, str], ...] = (("reopen", "Reopen"), ("note", "Note"))

METRIC_LABELS: dict[Metric, str] = {
    Metric.TIME_TO_DETECT: "Time to detect",
    Metric.TIME_TO_ACKNOWLEDGE: "Time to acknowledge",
    Metric.TIME_TO_MITIGATE: "Time to mitigate",
    Metric.TIME_TO_CLOSE: "Time to close",
}
CLOSURE_LABELS: dict[ClosureReason, str] = {
    ClosureReason.DUPLICATE: "Duplicate",
    ClosureReason.FALSE_ALARM: "False alarm",
    ClosureReason.SUPERSEDED: "Superseded",
    ClosureReason.EXTERNAL: "External",
    ClosureReason.CANCELLED: "Cancelled",
}
STATUS_EMOJI: dict[Status, str] = {
    Status.OPEN: ":rotating_light:",
    Status.INVESTIGATING: ":mag:",
    Status.MITIGATING: ":hammer_and_wrench:",
    Status.MITIGATED: ":white_check_mark:",
    Status.POSTMORTEM: ":memo:",
    Status.CLOSED: ":checkered_flag:",
}
KIND_EMOJI: dict[TimelineKind, str] = {
    TimelineKind.DECLARED: ":rotating_light:",
    TimelineKind.STATUS_CHANGE: ":arrows_counterclockwise:",
    TimelineKind.PRIORITY_CHANGE: ":arrow_up_down:",
    TimelineKind.DETAILS_CHANGE: ":pencil2:",
    TimelineKind.ROLE_CHANGE: ":bust_in_silhouette:",
    TimelineKind.MILESTONE_SET: ":round_pushpin:",
    TimelineKind.NOTE: ":spiral_note_pad:",
    TimelineKind.STATUS_UPDATE: ":mega:",
    TimelineKind.PINNED_MESSAGE: ":pushpin:",
    TimelineKind.EXTERNAL_EVENT: ":link:",
    TimelineKind.PAGE: ":pager:",
    TimelineKind.POSTMORTEM_CREATED: ":memo:",
    TimelineKind.FOLLOWUP: ":ballot_box_with_check:",
    TimelineKind.COST: ":moneybag:",
    TimelineKind.CONVERTED: ":twisted_rightwards_arrows:",
    TimelineKind.SIDE_EFFECT_FAILED: ":warning:",
    TimelineKind.CLOSED: ":checkered_flag:",
    TimelineKind.REOPENED: ":leftwards_arrow_with_hook:",
}
_TIMELINE_LINE_MAX = 600
MAX_PAGE_SIZE = 100
"""Most timeline entries on one page (they always fit in 50 blocks)."""
EDITABLE_PAGE_SIZE = 40
"""Most entries on a page with a menu per entry (one block each, within 50 blocks)."""
_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentView:
    """What the incident messages show besides the incident itself.

    ``roles``: (role name, user id) of every role holder but the commander, in display order.
    ``links``: label → URL (``"Jira"``, ``"Post-mortem"``, ``"PagerDuty"``…); only http(s) URLs
    become links. ``command``: the slash command, e.g. ``/incident``."""

    incident: Incident
    style: PriorityStyle
    tz: ZoneInfo
    now: datetime
    command: str = "/incident"
    commander: str | None = None
    commander_name: str | None = None
    """Shown in the channel topic instead of the mention when known."""
    roles: Sequence[tuple[str, str]] = ()
    links: Mapping[str, str] = field(default_factory=dict)
    category_name: str | None = None
    """The category's display name; its key when ``None``."""


# --- small pieces ------------------------------------------------------------------------------


def safe(text: str, limit: int) -> str:
    """``text`` escaped and cut to at most ``limit`` characters, never in the middle of an
    entity (``&amp;``), the cut marked with an ellipsis."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    cut = _ENTITY_TAIL.sub("", escaped[: max(0, limit - 1)])
    return cut + "…"


def _fit(text: str, limit: int) -> str:
    """Our own (already escaped) mrkdwn cut to ``limit``, avoiding a half ``<…>`` or entity."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    opening = cut.rfind("<")
    if opening > cut.rfind(">"):
        cut = cut[:opening]
    return _ENTITY_TAIL.sub("", cut) + "…"


def _title(incident: Incident, limit: int = 200) -> str:
    return safe(incident.title, limit)


def _user(user_id: str | None, *, nobody: str = "nobody yet") -> str:
    return f"<@{user_id}>" if user_id else nobody


def _actor(actor: Actor) -> str:
    if actor.is_user:
        return f"<@{actor.id}>"
    return safe(actor.display_name or actor.id, 80)


def link(url: str, text: str) -> str:
    """A Slack link for a URL we were given; a URL that is not plain http(s) stays plain text."""
    shown = safe(text, 200)
    if _SAFE_URL.match(url):
        return f"<{escape(url)}|{shown}>"
    return f"{shown}: {safe(url, 300)}"


def _links(links: Mapping[str, str]) -> str:
    return " · ".join(link(url, name) for name, url in links.items())


def _when(moment: datetime | None, tz: ZoneInfo) -> str:
    return local_time(moment, tz) if moment is not None else "not set"


def _span(delta: timedelta | None) -> str:
    if delta is None:
        return "not recorded"
    if delta < timedelta(0):
        return f":warning: negative (-{duration(-delta)}): check the milestones"
    return duration(delta)


def _section(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": _fit(text, 3000)}}
    if block_id:
        block["block_id"] = block_id
    return block


def _fields(pairs: Sequence[tuple[str, str]]) -> Block:
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": _fit(f"*{name}*\n{value}", FIELD_TEXT_MAX)}
            for name, value in pairs[:10]
        ],
    }


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _fit(text, 3000)}]}


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": _fit(text, HEADER_TEXT_MAX)}}


def _message(text: str, blocks: list[Block]) -> Message:
    return {"text": _fit(text, FALLBACK_MAX), "blocks": blocks[:MAX_MESSAGE_BLOCKS]}


def open_modal_button(incident: Incident, modal: str, text: str) -> Block:
    """A button opening one incident modal (see the module docstring for the id convention)."""
    button: Block = {
        "type": "button",
        "action_id": f"{ActionId.OPEN_MODAL}.{modal}",
        "value": f"{incident.id}:{modal}",
        "text": {"type": "plain_text", "text": text},
    }
    if modal == "close":
        button["style"] = "danger"
    return button


def _roles(view: IncidentView) -> str:
    if not view.roles:
        return "No other role assigned"
    return "\n".join(f"{safe(name, 60)}: {_user(user_id)}" for name, user_id in view.roles)


def _headline(view: IncidentView, *, emoji: bool = True) -> str:
    """``:red_circle: P1 · Critical · Investigating`` (without the emoji for fallback texts)."""
    incident = view.incident
    style = view.style if emoji else PriorityStyle("", view.style.name)
    return f"{style.label(incident.priority)} · {incident.status.label}"


def _closure(incident: Incident) -> str | None:
    if incident.closure_reason is None:
        return None
    text = f"Closed early: {CLOSURE_LABELS[incident.closure_reason]}"
    if incident.closure_reference:
        text += f" ({safe(incident.closure_reference, 200)})"
    return text


# --- the incident channel ----------------------------------------------------------------------


def summary_message(view: IncidentView) -> Message:
    """The summary pinned in the incident channel, edited in place on every change."""
    incident = view.incident
    milestones = incident.milestones
    reference = incident.reference
    pairs = [
        ("Priority", view.style.label(incident.priority)),
        ("Status", f"{STATUS_EMOJI[incident.status]} {incident.status.label}"),
        ("Category", safe(view.category_name or incident.category, 200)),
        ("Environments", safe(", ".join(incident.environments), 500)),
        ("Commander", _user(view.commander)),
        ("Roles", _roles(view)),
        (label(Milestone.STARTED), _when(milestones.started_at, view.tz)),
        (label(Milestone.DECLARED), _when(milestones.declared_at, view.tz)),
        (label(Milestone.MITIGATED), _when(milestones.mitigated_at, view.tz)),
    ]
    blocks: list[Block] = [
        _header(f"{reference} · {safe(incident.title, HEADER_TEXT_MAX)}"),
        _fields(pairs),
        _section(f"*Summary*\n{safe(incident.summary, SECTION_TEXT_MAX - 20)}"),
    ]
    if closure := _closure(incident):
        blocks.append(_section(f"{STATUS_EMOJI[Status.CLOSED]} {closure}"))
    if view.links:
        blocks.append(_section(f"*Links*\n{_links(view.links)}"))
    if incident.private:
        blocks.append(
            _context(":lock: Private incident: only the members of this channel can see it.")
        )
    modals = CLOSED_MODALS if incident.status.is_closed else SUMMARY_MODALS
    blocks += [
        {
            "type": "actions",
            "elements": [open_modal_button(incident, modal, text) for modal, text in modals],
        },
        _context(
            f"Updated {local_time(view.now, view.tz)} · `{view.command} help` for every command"
        ),
    ]
    fallback = f"{reference} {_title(incident)} · {_headline(view, emoji=False)}"
    return _message(fallback, blocks)


def topic_text(view: IncidentView) -> str:
    """The channel topic: ``P2 · High · Investigating · Commander: @alice`` (≤ 250 characters,
    no emoji codes, no user text but the commander's name)."""
    incident = view.incident
    if view.commander_name:
        commander = "@" + safe(view.commander_name, 60)
    elif view.commander:
        commander = f"<@{view.commander}>"
    else:
        commander = "none yet"
    parts = [
        f"{incident.priority.label} · {safe(view.style.name, 40)}",
        incident.status.label,
        f"Commander: {commander}",
    ]
    if incident.private:
        parts.append("Private")
    return _fit(" · ".join(parts), TOPIC_MAX)


def change_reply(
    incident: Incident, text: str, *, actor: str | None, actor_name: str | None = None
) -> Message:
    """The threaded reply recording one change: ``Status: Investigating → Mitigated, by <@U1>``.

    ``text`` is plain text (escaped here, so it cannot carry mentions); ``actor`` a user id, or
    ``actor_name`` for a change made elsewhere (``Ada Lovelace in Jira``)."""
    by = f", by <@{actor}>" if actor else f", by {safe(actor_name, 120)}" if actor_name else ""
    line = f"{safe(text, 2500)}{by}"
    return _message(f"{incident.reference}: {line}", [_section(line)])


def closing_summary_message(
    view: IncidentView, timeline_count: int, *, archive_after: timedelta
) -> Message:
    """Posted in the channel on close: durations (``not recorded`` when a milestone is missing),
    roles, links, the early-closure reason, and when the channel will be archived."""
    incident = view.incident
    metrics = metrics_of(incident.milestones)
    durations = [(METRIC_LABELS[m], _span(metrics.get(m))) for m in Metric]
    blocks: list[Block] = [
        _header(f"{STATUS_EMOJI[Status.CLOSED]} {incident.reference} closed"),
        _section(f"*{_title(incident, 500)}*\n{_headline(view)}"),
        _fields([*durations, ("Commander", _user(view.commander)), ("Roles", _roles(view))]),
    ]
    if closure := _closure(incident):
        blocks.append(_section(closure))
    if view.links:
        blocks.append(_section(f"*Links*\n{_links(view.links)}"))
    entries = "entry" if timeline_count == 1 else "entries"
    footer = f"{timeline_count} timeline {entries}: `{view.command} timeline` to read them."
    if incident.channel_id:
        if archive_after <= timedelta(0):
            footer += " This channel is being archived now."
        else:
            when = local_time(view.now + archive_after, view.tz)
            footer += f" This channel will be archived {when} (in {duration(archive_after)})."
    blocks.append(_context(footer))
    fallback = f"{incident.reference} {_title(incident)} is closed"
    ttm = metrics.time_to_mitigate
    if ttm is not None:
        fallback += f" (time to mitigate {_span(ttm)})"
    return _message(fallback, blocks)


def timeline_message(
    incident: Incident,
    entries: Sequence[TimelineEntry],
    *,
    tz: ZoneInfo,
    page: int,
    page_size: int = 20,
    has_more: bool,
    editable: bool = False,
    followups: bool = False,
) -> Message:
    """The ephemeral answer of ``/incident timeline``: one line per entry of this page.

    ``editable`` (the reader may edit the timeline): each entry is its own section with a menu to
    edit it or strike it out (``bot.blocks.timeline.entry_menu``), at most ``EDITABLE_PAGE_SIZE``;
    with ``followups`` (Jira is configured) the menu also makes an entry a follow-up.

    ``entries`` are this page's entries (the first ``page_size``, at most ``MAX_PAGE_SIZE``, are
    shown; more count as ``has_more``); ``page`` is 1-based. With more to show, a "Show more" button
    (``ActionId.TIMELINE_MORE``, value ``"<incident id>:<page + 1>"``) asks for the next page."""
    page_size = min(max(1, page_size), EDITABLE_PAGE_SIZE if editable else MAX_PAGE_SIZE)
    shown = list(entries[:page_size])
    has_more = has_more or len(entries) > len(shown)
    title = f"Timeline of {incident.reference} · {safe(incident.title, 100)}"
    blocks: list[Block] = [_header(title)]
    if not shown:
        blocks.append(_section("No timeline entries yet."))
    if editable:
        for entry in shown:
            block = _section(
                _timeline_line(entry, tz), block_id=f"{BlockId.TIMELINE_ENTRY_PREFIX}{entry.id}"
            )
            if not entry.struck_out:
                block["accessory"] = entry_menu(entry, followups=followups)
            blocks.append(block)
    # Lines are at most 600 characters, packed into sections of 3000: 100 lines need at most 25.
    chunk = ""
    for line in (_timeline_line(entry, tz) for entry in ([] if editable else shown)):
        if chunk and len(chunk) + 1 + len(line) > SECTION_TEXT_MAX:
            blocks.append(_section(chunk))
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        blocks.append(_section(chunk))
    first = (page - 1) * page_size + 1
    if shown:
        blocks.append(_context(f"Page {page} · entries {first} to {first + len(shown) - 1}"))
    if has_more:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ActionId.TIMELINE_MORE.value,
                        "value": f"{incident.id}:{page + 1}",
                        "text": {"type": "plain_text", "text": "Show more"},
                    }
                ],
            }
        )
    message = _message(f"Timeline of {incident.reference}: {len(shown)} entries", blocks)
    message["response_type"] = "ephemeral"
    return message


def _timeline_line(entry: TimelineEntry, tz: ZoneInfo) -> str:
    raw = localize_times(entry.text.replace("\n", " "), tz)
    text = safe(raw or entry.kind.value.replace("_", " "), 400)
    if entry.struck_out:
        why = struck_reason(entry)
        text = f"~{text}~ " + (f"(struck out: {safe(why, 150)})" if why else "(deleted in Slack)")
    elif entry.edited:
        text += " (edited)"
    line = f"`{local_time(entry.happened_at, tz)}` {KIND_EMOJI[entry.kind]} {text} · {_actor(entry.actor)}"
    if entry.source_permalink:
        line += " · " + link(entry.source_permalink, "source")
    return _fit(line, _TIMELINE_LINE_MAX)


# --- announcements -----------------------------------------------------------------------------


def announcement_message(view: IncidentView, channel_id: str | None) -> Message:
    """The announcement in the global incidents channel, edited in place on every change.

    Says the priority, title, status and commander; "Join <#C…>" while there is a channel to
    join; once mitigated or closed, when, and how long it took (time to mitigate, to close)."""
    incident = view.incident
    metrics = metrics_of(incident.milestones)
    title = _title(incident, 500)
    lines = [
        f"{STATUS_EMOJI[incident.status]} *{incident.reference} {title}*",
        f"{_headline(view)} · Commander: {_user(view.commander)}",
    ]
    blocks: list[Block] = [_section("\n".join(lines))]
    status = incident.status
    if status.is_closed:
        outcome = f"Closed {_when(incident.milestones.closed_at, view.tz)}"
        if closure := _closure(incident):
            outcome += f" · {closure}"
        outcome += f" · time to mitigate {_span(metrics.time_to_mitigate)}"
        outcome += f" · time to close {_span(metrics.time_to_close)}"
    elif status.is_mitigated_or_later:
        outcome = (
            f"Mitigated {_when(incident.milestones.mitigated_at, view.tz)}"
            f" · time to mitigate {_span(metrics.time_to_mitigate)}"
        )
    else:
        outcome = f"Declared {_when(incident.milestones.declared_at, view.tz)}"
    if not status.is_closed:
        blocks.append(_section(safe(incident.summary, 600)))
    if channel_id:
        if status.is_closed:
            where = f"Channel: <#{channel_id}>"
        elif incident.private:
            # Nobody outside can join a private channel: say whom to ask.
            where = f"Private channel: ask {_user(view.commander, nobody='its commander')} to be invited"
        else:
            where = f"Join <#{channel_id}>"
        outcome += f" · {where}"
    blocks.append(_context(outcome))
    fallback = f"{incident.reference} {_title(incident)} · {_headline(view, emoji=False)}"
    if status.is_mitigated_or_later and not status.is_closed:
        fallback += f" · mitigated in {_span(metrics.time_to_mitigate)}"
    return _message(fallback, blocks)


def private_announcement_for_outsiders(incident: Incident) -> Message:
    """A private incident's announcement where people outside it may read it: the private digest
    channel, when the channel configured there turns out not to be private. Its reference,
    priority and status only: no title, summary, channel or people."""
    text = (
        f":lock: {incident.reference}: a private {incident.priority.label} incident is"
        f" {incident.status.label.lower()}. Its details are shared with its members only."
    )
    return _message(text, [_section(text)])


def status_update_message(
    incident: Incident, text: str, author_id: str, permalink: str | None
) -> Message:
    """A message broadcast as a status update (📣), for the announcement thread or channel.

    ``text`` is the message's plain text (escaped here)."""
    head = f":mega: *Status update on {incident.reference} {_title(incident, 300)}*"
    body = "\n".join(f">{line}" for line in safe(text, 2000).splitlines() or [""])
    source = f" · {link(permalink, 'original message')}" if permalink else ""
    blocks = [_section(f"{head}\n{body}"), _context(f"From <@{author_id}>{source}")]
    return _message(f"Status update on {incident.reference}: {safe(text, 500)}", blocks)


def deploy_warning_message(incident: Incident, style: PriorityStyle, lifted: bool) -> Message:
    """The warning in the deploy channel (P1 in production), edited in place when lifted at
    mitigation. A private incident's title is not shown."""
    env = safe(incident.primary_environment, 40)
    what = "a private incident" if incident.private else f"*{_title(incident, 300)}*"
    where = f" Follow it in <#{incident.channel_id}>." if incident.channel_id else ""
    if lifted:
        text = (
            f":white_check_mark: *Deploy freeze lifted*: {incident.reference} is"
            f" {incident.status.label.lower()}. Deploys to {env} may resume."
        )
        fallback = f"Deploy freeze lifted: {incident.reference} is {incident.status.label.lower()}"
    else:
        text = (
            f":no_entry: *Deploys frozen: {incident.priority.label} in {env}*\n"
            f"{incident.reference} {what} ({style.label(incident.priority)}). Hold every deploy "
            f"to {env} until it is mitigated.{where}"
        )
        fallback = f"Deploys frozen: {incident.priority.label} in {env} ({incident.reference})"
    return _message(fallback, [_section(text)])


# --- people ------------------------------------------------------------------------------------


def role_assigned_dm(
    incident: Incident,
    role_name: str,
    duties: str,
    channel_id: str | None,
    assigned_by: Actor,
) -> Message:
    """The DM telling someone they hold a role: its duties and where to go."""
    role = safe(role_name, 60)
    where = (
        f"You are invited to <#{channel_id}>: start there."
        if channel_id
        else "This incident has no channel: follow it from the App Home."
    )
    head = (
        f":bust_in_silhouette: You are now *{role}* of {incident.reference}"
        f" *{_title(incident, 300)}* ({incident.priority.label}, {incident.status.label})."
    )
    blocks = [_section(head)]
    if duties.strip():
        blocks.append(_section(f"*Your duties*\n{safe(duties.strip(), 2500)}"))
    blocks.append(_context(f"Assigned by {_actor(assigned_by)}. {where}"))
    return _message(f"You are now {role} of {incident.reference} {_title(incident)}", blocks)


def side_effect_failed_message(incident_reference: str, what: str, error: str) -> Message:
    """Told to the channel and to the person who acted when a side effect failed for good:
    ``I could not create the Jira ticket (timeout): …``. The incident itself is saved."""
    reference = safe(incident_reference, 20)
    line = f":warning: I could not {safe(what, 300)} ({safe(error, 500)}) for {reference}."
    advice = (
        "The incident itself is saved and this failure is on its timeline. "
        "Do it by hand if it is needed now, and tell your incident managers if it happens again."
    )
    return _message(
        f"I could not {safe(what, 300)} for {reference}", [_section(f"{line}\n{advice}")]
    )


def incident_notice_message(incident: Incident, text: str) -> Message:
    """A line for the responders about something that happened outside Slack."""
    line = f":link: {safe(text, 2800)}"
    return _message(f"{incident.reference}: {safe(text, 300)}", [_section(line)])


def note_added_message(incident: Incident, text: str | None = None) -> Message:
    """The confirmation of a note or pinned message: ``Added to the timeline of #12``."""
    line = f":spiral_note_pad: Added to the timeline of {incident.reference}"
    if text:
        line += f": {safe(text.replace(chr(10), ' '), 300)}"
    return _message(line, [_context(line)])
