"""Correcting the timeline from Slack (PRODUCT.md §1 Timeline): an entry's text and the time it
happened are editable with a reason; an entry can be struck out with a reason. Nothing is deleted:
the previous text and time, who changed them, when and why stay in the entry's ``data`` (audit).

Pure: the service reads the incident and the entry, calls these rules with ``now`` and writes what
they return.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import UserFacingError
from bot.domain.events import iso
from bot.domain.incident import Actor, Incident, JsonValue, TimelineEntry
from bot.domain.milestones import MAX_CLOCK_SKEW

TEXT_MAX_LENGTH = 3000
REASON_MIN_LENGTH = 10
REASON_MAX_LENGTH = 500
AUDIT_EDITS = "edits"
"""``data["edits"]``: one record per edit, oldest first (previous text and time, reason, by, at)."""
AUDIT_STRUCK = "struck"
"""``data["struck"]``: who struck the entry out, when and why."""


class EntryField(StrEnum):
    """What a refusal is about (the modal shows it on that input)."""

    TEXT = "text"
    TIME = "time"
    REASON = "reason"
    ENTRY = "entry"
    """The entry itself (struck out meanwhile): nothing in the form can fix it."""


class TimelineEditRefused(UserFacingError):
    """An edit or strike-out breaks a rule; ``field`` says which input it is about."""

    def __init__(self, message: str, field: EntryField) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class EntryChange:
    """What to write on the entry: its new text and time (unchanged ones as they were) and data."""

    text: str
    happened_at: datetime
    data: Mapping[str, JsonValue]


def earliest_time(incident: Incident) -> datetime:
    """No entry happened before the impact started (or, with no start, before it was declared,
    or before the incident was created)."""
    m = incident.milestones
    candidates = [t for t in (m.started_at, m.declared_at) if t is not None]
    return min(candidates) if candidates else incident.created_at


def check_reason(reason: str) -> str:
    cleaned = reason.strip()
    if len(cleaned) < REASON_MIN_LENGTH:
        raise TimelineEditRefused(
            f"Give a reason of at least {REASON_MIN_LENGTH} characters "
            f"({len(cleaned)} given): it is kept for audit.",
            EntryField.REASON,
        )
    if len(cleaned) > REASON_MAX_LENGTH:
        raise TimelineEditRefused(
            f"A reason has at most {REASON_MAX_LENGTH} characters ({len(cleaned)} given).",
            EntryField.REASON,
        )
    return cleaned


def check_text(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise TimelineEditRefused("Write the entry's text.", EntryField.TEXT)
    if len(cleaned) > TEXT_MAX_LENGTH:
        raise TimelineEditRefused(
            f"An entry has at most {TEXT_MAX_LENGTH} characters ({len(cleaned)} given).",
            EntryField.TEXT,
        )
    return cleaned


def check_time(incident: Incident, happened_at: datetime, *, now: datetime) -> None:
    if happened_at.tzinfo is None or happened_at.utcoffset() is None:
        raise ValueError(f"timeline times are timezone-aware datetimes, got {happened_at!r}")
    if happened_at > now + MAX_CLOCK_SKEW:
        raise TimelineEditRefused(
            f"{iso(happened_at)} is in the future (it is now {iso(now)}).", EntryField.TIME
        )
    earliest = earliest_time(incident)
    if happened_at < earliest:
        raise TimelineEditRefused(
            f"{iso(happened_at)} is before the incident started ({iso(earliest)}).",
            EntryField.TIME,
        )


def _require_live(entry: TimelineEntry) -> None:
    if entry.struck_out:
        struck = entry.data.get(AUDIT_STRUCK)
        why = ""
        if isinstance(struck, Mapping) and struck.get("reason"):
            why = f" ({struck['reason']})"
        raise TimelineEditRefused(
            f"This timeline entry was struck out meanwhile{why}: it can no longer be changed.",
            EntryField.ENTRY,
        )


def edit_entry(
    incident: Incident,
    entry: TimelineEntry,
    *,
    text: str,
    happened_at: datetime | None,
    reason: str,
    by: Actor,
    now: datetime,
) -> EntryChange:
    """Correct an entry's text and/or time (``happened_at`` ``None``: the time stays).

    Refused (``TimelineEditRefused``) when the entry is struck out, the reason is shorter than
    ``REASON_MIN_LENGTH``, the text is empty or longer than ``TEXT_MAX_LENGTH``, the time is in the
    future beyond ``MAX_CLOCK_SKEW`` or before the incident started, or nothing changes. The
    previous text and time, the reason, the actor and ``now`` are appended to ``data["edits"]``."""
    if entry.incident_id != incident.id:
        raise ValueError(f"entry {entry.id} belongs to incident {entry.incident_id}")
    _require_live(entry)
    cleaned = check_text(text)
    when = entry.happened_at if happened_at is None else happened_at
    if happened_at is not None and happened_at != entry.happened_at:
        check_time(incident, happened_at, now=now)
    why = check_reason(reason)
    if cleaned == entry.text and when == entry.happened_at:
        raise TimelineEditRefused("Nothing changed: edit the text or the time.", EntryField.TEXT)
    record: dict[str, JsonValue] = {
        "previous_text": entry.text,
        "previous_happened_at": iso(entry.happened_at),
        "text_changed": cleaned != entry.text,
        "time_changed": when != entry.happened_at,
        "reason": why,
        "by": by.id,
        "at": iso(now),
    }
    history = entry.data.get(AUDIT_EDITS)
    edits: list[JsonValue] = [*history, record] if isinstance(history, list) else [record]
    return EntryChange(cleaned, when, {**entry.data, AUDIT_EDITS: edits})


def strike_entry(
    entry: TimelineEntry, *, reason: str, by: Actor, now: datetime
) -> Mapping[str, JsonValue]:
    """The data of an entry being struck out (kept, shown struck through): who, when and why.
    Refused when it is already struck out or the reason is too short."""
    _require_live(entry)
    why = check_reason(reason)
    return {**entry.data, AUDIT_STRUCK: {"reason": why, "by": by.id, "at": iso(now)}}


def struck_reason(entry: TimelineEntry) -> str | None:
    """Why a person struck the entry out (``None`` when its source message was deleted)."""
    struck = entry.data.get(AUDIT_STRUCK)
    if isinstance(struck, Mapping) and isinstance(struck.get("reason"), str):
        return str(struck["reason"])
    return None
