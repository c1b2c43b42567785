"""Reminder messages (PRODUCT.md §3), posted in the incident channel (and, for the post-mortem, to
the commander). Pure builders; "Post update", "Change status…" and "Assign roles…" are
``OPEN_MODAL`` buttons handled like the pinned summary's, "Snooze" and "Mute" have their own ids
with the value ``"<incident id>:<reminder kind>"``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.blocks.ids import ActionId
from bot.blocks.incident import open_modal_button, safe
from bot.blocks.text import duration, local_time
from bot.domain.incident import Incident
from bot.domain.reminders import ReminderKind

Message = dict[str, Any]
Block = dict[str, Any]


def _button(action_id: ActionId, text: str, incident: Incident, kind: ReminderKind) -> Block:
    return {
        "type": "button",
        "action_id": action_id.value,
        "text": {"type": "plain_text", "text": text},
        "value": f"{incident.id}:{kind.value}",
    }


def _message(text: str, buttons: Sequence[Block], *, context: str | None = None) -> Message:
    blocks: list[Block] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if context:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    if buttons:
        blocks.append({"type": "actions", "elements": list(buttons)})
    plain = text.replace("*", "")
    return {"text": plain[:3000], "blocks": blocks}


def update_reminder_message(
    incident: Incident, *, last_update: datetime | None, now: datetime, snooze_minutes: int
) -> Message:
    since = f" for {duration(now - last_update)}" if last_update else ""
    title = safe(incident.title, 150)
    text = (
        f":hourglass_flowing_sand: {incident.reference} *{title}* has had no update{since}. "
        "Tell people where things stand: post an update (or 📣 a message)."
    )
    snooze = f"Snooze {duration(timedelta(minutes=snooze_minutes))}"
    return _message(
        text,
        [
            {**open_modal_button(incident, "note", "Post update"), "style": "primary"},
            _button(ActionId.REMINDER_SNOOZE, snooze, incident, ReminderKind.UPDATE),
            _button(ActionId.REMINDER_MUTE, "Mute", incident, ReminderKind.UPDATE),
        ],
    )


def stale_mitigated_message(incident: Incident, *, now: datetime) -> Message:
    mitigated = incident.milestones.mitigated_at
    since = f" for {duration(now - mitigated)}" if mitigated else ""
    text = (
        f":broom: {incident.reference} *{safe(incident.title, 150)}* has been Mitigated{since}: "
        "close it or move it to post-mortem."
    )
    return _message(
        text,
        [
            open_modal_button(incident, "status", "Change status…"),
            open_modal_button(incident, "close", "Close…"),
        ],
    )


def postmortem_due_message(incident: Incident, *, due_at: datetime, tz: ZoneInfo) -> Message:
    text = (
        f":memo: The post-mortem of {incident.reference} *{safe(incident.title, 150)}* is due "
        f"({local_time(due_at, tz)}). Write it, mark it ready, then move the incident on."
    )
    where = f"In <#{incident.channel_id}>." if incident.channel_id else None
    return _message(text, [open_modal_button(incident, "status", "Change status…")], context=where)


def role_gap_message(incident: Incident, roles: Sequence[str]) -> Message:
    names = ", ".join(safe(role, 60) for role in roles) or "a role"
    text = (
        f":busts_in_silhouette: {incident.reference} is {incident.priority.label} and still has no "
        f"{names}. Someone should take it."
    )
    return _message(text, [open_modal_button(incident, "roles", "Assign roles…")])
