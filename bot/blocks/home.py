"""The App Home tab: the viewer's incidents first, then every open incident they may see, grouped by
priority, then the recently closed ones. Slack allows 100 blocks in a Home view; the builder stops
before that and says how many more there are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from bot.blocks.ids import BlockId, CallbackId
from bot.blocks.text import duration, escape, local_time, truncate
from bot.domain.incident import Incident, Priority

View = dict[str, Any]
MAX_BLOCKS = 100


@dataclass(frozen=True, slots=True)
class PriorityStyle:
    """How a priority is shown: ``:red_circle: P1 · Critical``."""

    emoji: str
    name: str

    def label(self, priority: Priority) -> str:
        emoji = f"{self.emoji} " if self.emoji else ""
        return f"{emoji}{priority.label} · {self.name}"


def style_of(styles: Mapping[Priority, PriorityStyle], priority: Priority) -> PriorityStyle:
    """The configured style of ``priority``, or its bare label when the catalog has none."""
    return styles.get(priority, PriorityStyle("", priority.label))


@dataclass(frozen=True, slots=True)
class HomePage:
    """What the viewer may see, already filtered by the access rules."""

    viewer_id: str
    mine: Sequence[Incident]
    open: Sequence[Incident]
    recently_closed: Sequence[Incident]
    commanders: Mapping[int, str] = field(default_factory=dict)
    roles_of_viewer: Mapping[int, Sequence[str]] = field(default_factory=dict)


def home_view(
    page: HomePage,
    *,
    styles: Mapping[Priority, PriorityStyle],
    tz: ZoneInfo,
    now: datetime,
    command: str,
) -> View:
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "block_id": BlockId.HOME_HEADER,
            "text": {"type": "plain_text", "text": ":fire_engine: FireFighter"},
        },
        _context(f"Incidents you can see, as of {local_time(now, tz)}."),
    ]
    if not page.open and not page.recently_closed:
        blocks += [
            {
                "type": "section",
                "block_id": BlockId.HOME_EMPTY,
                "text": {
                    "type": "mrkdwn",
                    "text": "*All quiet.* There is no open incident you can see right now.",
                },
            },
            _context(f"Type `{command} help` in any channel to see what you can do."),
        ]
        return {"type": "home", "callback_id": CallbackId.HOME, "blocks": blocks}

    sections: list[tuple[str, str, list[dict[str, Any]]]] = []
    if page.mine:
        sections.append(
            (
                BlockId.HOME_MINE,
                "Your incidents",
                [_incident(i, page, styles, now, with_roles=True) for i in page.mine],
            )
        )
    open_blocks: list[dict[str, Any]] = []
    for priority, group in groupby(page.open, key=lambda i: i.priority):
        incidents = list(group)
        style = style_of(styles, priority)
        open_blocks.append(_context(f"*{style.label(priority)}* ({len(incidents)} open)"))
        open_blocks += [_incident(i, page, styles, now, with_roles=False) for i in incidents]
    if not page.open:
        open_blocks.append(_context("No open incident you can see."))
    sections.append((BlockId.HOME_OPEN, f"Open incidents ({len(page.open)})", open_blocks))
    if page.recently_closed:
        sections.append(
            (
                BlockId.HOME_CLOSED,
                "Recently closed",
                [_closed(i, styles, tz) for i in page.recently_closed],
            )
        )

    shown = omitted = 0
    total = sum(len(items) for _, _, items in sections)
    for block_id, title, items in sections:
        if len(blocks) + 3 > MAX_BLOCKS - 2:
            break
        blocks += [
            {"type": "divider"},
            {
                "type": "section",
                "block_id": block_id,
                "text": {"type": "mrkdwn", "text": f"*{title}*"},
            },
        ]
        room = MAX_BLOCKS - 2 - len(blocks)
        blocks += items[:room]
        shown += min(len(items), room)
    omitted = total - shown
    if omitted:
        blocks.append(
            _context(
                f"{omitted} more not shown here: use `{command} list` to see them all.",
                block_id=BlockId.HOME_MORE,
            )
        )
    return {"type": "home", "callback_id": CallbackId.HOME, "blocks": blocks}


def _incident(
    incident: Incident,
    page: HomePage,
    styles: Mapping[Priority, PriorityStyle],
    now: datetime,
    *,
    with_roles: bool,
) -> dict[str, Any]:
    style = style_of(styles, incident.priority)
    where = f"<#{incident.channel_id}>" if incident.channel_id else "no channel"
    lock = ":lock: " if incident.private else ""
    commander = page.commanders.get(incident.id)
    facts = [
        incident.status.label,
        f"open for {duration(now - incident.created_at)}",
        f"commander <@{commander}>" if commander else "no commander",
        where,
    ]
    if with_roles and page.roles_of_viewer.get(incident.id):
        facts.append("you: " + ", ".join(page.roles_of_viewer[incident.id]))
    title = escape(truncate(incident.title, 128))
    text = (
        f"{lock}*{incident.reference} {title}*\n{style.label(incident.priority)} · "
        + " · ".join(facts)
    )
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}}


def _closed(
    incident: Incident, styles: Mapping[Priority, PriorityStyle], tz: ZoneInfo
) -> dict[str, Any]:
    style = style_of(styles, incident.priority)
    closed_at = incident.milestones.closed_at
    when = f"closed {local_time(closed_at, tz)}" if closed_at else "closed"
    title = escape(truncate(incident.title, 128))
    return _context(f"{incident.reference} {title} · {style.label(incident.priority)} · {when}")


def _context(text: str, *, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
    if block_id:
        block["block_id"] = block_id
    return block
