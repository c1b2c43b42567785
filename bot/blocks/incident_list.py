"""The ephemeral answer of ``/incident list [open|mine|closed]``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.blocks.home import PriorityStyle, style_of
from bot.blocks.text import duration, escape, local_time, truncate
from bot.domain.incident import Incident, Priority

MAX_LISTED = 45  # 50 blocks per message, minus the header and the footer
_TITLES = {"open": "Open incidents", "mine": "Your open incidents", "closed": "Recently closed"}


def incident_list_message(
    which: str,
    incidents: Sequence[Incident],
    *,
    styles: Mapping[Priority, PriorityStyle],
    tz: ZoneInfo,
    now: datetime,
    command: str,
) -> dict[str, Any]:
    title = _TITLES.get(which, "Incidents")
    if not incidents:
        text = {
            "open": "No open incident you can see. :sunny:",
            "mine": "You have no open incident (declared, with a role, or as a channel member).",
            "closed": "No closed incident you can see.",
        }.get(which, "No incident.")
        return {
            "response_type": "ephemeral",
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        }
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{title} ({len(incidents)})"}}
    ]
    for incident in incidents[:MAX_LISTED]:
        style = style_of(styles, incident.priority)
        when = (
            f"closed {local_time(incident.milestones.closed_at, tz)}"
            if incident.milestones.closed_at
            else f"open for {duration(now - incident.created_at)}"
        )
        where = f" · <#{incident.channel_id}>" if incident.channel_id else ""
        lock = ":lock: " if incident.private else ""
        text = (
            f"{lock}*{incident.reference} {escape(truncate(incident.title, 128))}*\n"
            f"{style.label(incident.priority)} · {incident.status.label} · {when}{where}"
        )
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if len(incidents) > MAX_LISTED:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"{len(incidents) - MAX_LISTED} more not shown; see the Home tab.",
                    }
                ],
            }
        )
    return {"response_type": "ephemeral", "text": f"{title}: {len(incidents)}", "blocks": blocks}
