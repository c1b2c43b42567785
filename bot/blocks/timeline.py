"""Correcting the timeline and the milestones from Slack (PRODUCT.md §1): the menu of a timeline
entry, the edit and strike-out modals, the milestones modal, each next to its parser.

Slack's ``datetimepicker`` shows times in the viewer's own Slack time zone; every modal here also
names the configured (team) time zone and shows the current values in it. Each modal's
``private_metadata`` carries the values it showed (whole seconds), so a submission changes only what
the person changed (an untouched picker keeps the stored time to the microsecond).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.blocks import state
from bot.blocks.fields import (
    context_block,
    input_block,
    modal_view,
    plain,
    section_block,
    text_input,
)
from bot.blocks.ids import ActionId, BlockId, CallbackId
from bot.blocks.manage import FormInvalid
from bot.blocks.text import escape, local_time, truncate
from bot.domain.incident import Incident, Milestone, TimelineEntry, TimelineKind
from bot.domain.milestones import SETTABLE_FROM, UNCLEARABLE, MilestoneBatchRefused
from bot.domain.milestones import label as milestone_label
from bot.domain.timeline import (
    REASON_MAX_LENGTH,
    REASON_MIN_LENGTH,
    TEXT_MAX_LENGTH,
    EntryField,
    TimelineEditRefused,
    check_reason,
    check_text,
    earliest_time,
)

View = dict[str, Any]
Block = dict[str, Any]

EDIT = "edit"
STRIKE = "strike"
FOLLOWUP = "followup"
_FIELD_BLOCKS: dict[EntryField, str] = {
    EntryField.TEXT: BlockId.TIMELINE_EDIT_TEXT,
    EntryField.TIME: BlockId.TIMELINE_EDIT_TIME,
    EntryField.REASON: BlockId.TIMELINE_EDIT_REASON,
}


# ---------------------------------------------------------------------------------------------------
# The menu of one entry in `/incident timeline`
# ---------------------------------------------------------------------------------------------------


def entry_menu(entry: TimelineEntry, *, followups: bool = False) -> Block:
    """An overflow (Edit… / Strike out…) for an entry that is not struck out; ``followups``
    (Jira is configured): also "Make it a follow-up…", except on a follow-up's own entry."""
    options = [
        {"text": plain("Edit…"), "value": f"{EDIT}:{entry.id}"},
        {"text": plain("Strike out…"), "value": f"{STRIKE}:{entry.id}"},
    ]
    if followups and entry.kind is not TimelineKind.FOLLOWUP:
        options.append({"text": plain("Make it a follow-up…"), "value": f"{FOLLOWUP}:{entry.id}"})
    return {"type": "overflow", "action_id": ActionId.TIMELINE_ENTRY.value, "options": options}


def parse_entry_menu(action: Mapping[str, Any]) -> tuple[str, int]:
    """``(EDIT, STRIKE or FOLLOWUP, entry id)`` of a click in ``entry_menu``."""
    selected = action.get("selected_option")
    raw = selected.get("value") if isinstance(selected, Mapping) else None
    kind, _, entry = str(raw or "").partition(":")
    entry_id = state.row_id(entry)
    if kind not in (EDIT, STRIKE, FOLLOWUP) or entry_id is None:
        raise ValueError(f"not a timeline entry menu choice: {raw!r}")
    return kind, entry_id


# ---------------------------------------------------------------------------------------------------
# Edit an entry
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineEdit:
    incident_id: int
    entry_id: int
    text: str
    happened_at: datetime | None
    """``None``: the picker was left as shown (the stored time stays)."""
    reason: str


def timeline_edit_modal(incident: Incident, entry: TimelineEntry, tz: ZoneInfo) -> View:
    """The entry's text, the time it happened and a required reason (kept for audit)."""
    shown_at = int(entry.happened_at.timestamp())
    earliest = earliest_time(incident)
    blocks: list[Block] = [
        _incident_context(incident),
        text_input(
            BlockId.TIMELINE_EDIT_TEXT,
            "Text",
            initial=entry.text,
            multiline=True,
            max_length=TEXT_MAX_LENGTH,
        ),
        input_block(
            BlockId.TIMELINE_EDIT_TIME,
            "When it happened",
            {
                "type": "datetimepicker",
                "action_id": BlockId.TIMELINE_EDIT_TIME,
                "initial_date_time": shown_at,
            },
            hint=(
                f"Now {local_time(entry.happened_at, tz)} ({tz.key} time). Not in the future, "
                f"not before the incident started ({local_time(earliest, tz)})."
            ),
        ),
        text_input(
            BlockId.TIMELINE_EDIT_REASON,
            "Reason for the change",
            max_length=REASON_MAX_LENGTH,
            placeholder=f"At least {REASON_MIN_LENGTH} characters",
            hint="Kept with the previous text and time for audit.",
        ),
    ]
    metadata = {"incident_id": incident.id, "entry_id": entry.id, "shown_at": shown_at}
    return modal_view(
        CallbackId.TIMELINE_EDIT_MODAL,
        f"Edit entry of {incident.reference}",
        blocks,
        _metadata(metadata),
        submit="Save",
    )


def parse_timeline_edit(view: Mapping[str, Any]) -> TimelineEdit:
    values = state.values_of(view)
    incident_id, entry_id = _ids(view)
    errors: dict[str, str] = {}
    text = state.text(values, BlockId.TIMELINE_EDIT_TEXT)
    reason = state.text(values, BlockId.TIMELINE_EDIT_REASON)
    for check, raw in ((check_text, text), (check_reason, reason)):
        try:
            check(raw)
        except TimelineEditRefused as refused:
            errors[_FIELD_BLOCKS[refused.field]] = refused.message
    stamp = _picked(values, BlockId.TIMELINE_EDIT_TIME)
    if stamp is None:
        errors[BlockId.TIMELINE_EDIT_TIME] = "Choose a date and a time."
    if errors:
        raise FormInvalid(errors)
    assert stamp is not None
    shown = state.metadata_of(view).get("shown_at")
    happened_at = None if stamp == shown else datetime.fromtimestamp(stamp, UTC)
    return TimelineEdit(incident_id, entry_id, text.strip(), happened_at, reason.strip())


def edit_refusal_errors(refused: TimelineEditRefused) -> dict[str, str] | None:
    """A refusal the edit form can show on one of its inputs (``None``: the entry itself, as a
    struck-out entry, which ``timeline_notice_view`` tells instead)."""
    block = _FIELD_BLOCKS.get(refused.field)
    return {block: refused.message} if block else None


# ---------------------------------------------------------------------------------------------------
# Strike an entry out
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineStrike:
    incident_id: int
    entry_id: int
    reason: str


def timeline_strike_modal(incident: Incident, entry: TimelineEntry, tz: ZoneInfo) -> View:
    """The entry as it reads, and a required reason: it stays on the timeline, struck through."""
    quoted = escape(truncate(entry.text.replace("\n", " ") or entry.kind.value, 500))
    blocks: list[Block] = [
        _incident_context(incident),
        section_block(f"`{local_time(entry.happened_at, tz)}` {quoted}"),
        text_input(
            BlockId.TIMELINE_EDIT_REASON,
            "Why strike it out?",
            max_length=REASON_MAX_LENGTH,
            placeholder=f"At least {REASON_MIN_LENGTH} characters",
            hint="The entry stays on the timeline, struck through, with this reason.",
        ),
    ]
    metadata = {"incident_id": incident.id, "entry_id": entry.id}
    return modal_view(
        CallbackId.TIMELINE_STRIKE_MODAL,
        f"Strike out on {incident.reference}",
        blocks,
        _metadata(metadata),
        submit="Strike out",
    )


def parse_timeline_strike(view: Mapping[str, Any]) -> TimelineStrike:
    incident_id, entry_id = _ids(view)
    reason = state.text(state.values_of(view), BlockId.TIMELINE_EDIT_REASON)
    try:
        check_reason(reason)
    except TimelineEditRefused as refused:
        raise FormInvalid({BlockId.TIMELINE_EDIT_REASON: refused.message}) from None
    return TimelineStrike(incident_id, entry_id, reason.strip())


def timeline_notice_view(title: str, text: str) -> View:
    """A modal that only tells something (a stale entry): the answer to a submission that cannot
    be done, with ``response_action: update``."""
    return modal_view(
        CallbackId.TIMELINE_NOTICE, title, [section_block(text)], _metadata({}), close="Close"
    )


# ---------------------------------------------------------------------------------------------------
# Every milestone at once
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MilestonesChoice:
    incident_id: int
    values: dict[Milestone, datetime | None]
    """Only the milestones the person changed (``None``: cleared)."""


def milestone_block_id(milestone: Milestone) -> str:
    return f"{BlockId.MILESTONE_PREFIX}{milestone.value}"


def milestones_modal(incident: Incident, tz: ZoneInfo) -> View:
    """One date-and-time picker per milestone, its current value preselected and shown in the
    configured time zone: set and correct them all in one go."""
    shown: dict[str, int | None] = {}
    blocks: list[Block] = [
        _incident_context(incident),
        context_block(
            f"The pickers use your own Slack time zone; the times below are in {tz.key}. "
            "Every change is checked against the others and recorded on the timeline."
        ),
    ]
    for milestone in Milestone:
        current = incident.milestones.get(milestone)
        element: Block = {"type": "datetimepicker", "action_id": milestone_block_id(milestone)}
        if current is not None:
            element["initial_date_time"] = int(current.timestamp())
        shown[milestone.value] = int(current.timestamp()) if current is not None else None
        hint = f"Now {local_time(current, tz)}." if current is not None else "Not set."
        needed = SETTABLE_FROM.get(milestone)
        if needed is not None and incident.status.order < needed.order:
            hint += f" Can be set once the incident is {needed.label}."
        elif milestone in UNCLEARABLE:
            hint += " A metric needs it: correct it, do not clear it."
        blocks.append(
            input_block(
                milestone_block_id(milestone),
                milestone_label(milestone),
                element,
                optional=True,
                hint=hint,
            )
        )
    metadata = {"incident_id": incident.id, "version": incident.version, "shown": shown}
    return modal_view(
        CallbackId.MILESTONES_MODAL,
        f"Milestones of {incident.reference}",
        blocks,
        _metadata(metadata),
        submit="Save",
    )


def parse_milestones(view: Mapping[str, Any]) -> MilestonesChoice:
    """The milestones whose picker differs from what the modal showed."""
    data = state.metadata_of(view)
    incident_id = data.get("incident_id")
    shown = data.get("shown")
    if not isinstance(incident_id, int) or not isinstance(shown, Mapping):
        raise ValueError(f"not a milestones modal: private_metadata {data!r}")
    values = state.values_of(view)
    changed: dict[Milestone, datetime | None] = {}
    for milestone in Milestone:
        stamp = _picked(values, milestone_block_id(milestone))
        if stamp == shown.get(milestone.value):
            continue
        changed[milestone] = None if stamp is None else datetime.fromtimestamp(stamp, UTC)
    if not changed:
        first = milestone_block_id(Milestone.STARTED)
        raise FormInvalid({first: "Nothing changed: pick a new time for a milestone."})
    return MilestonesChoice(incident_id, changed)


def milestones_refusal_errors(refused: MilestoneBatchRefused) -> dict[str, str]:
    return {milestone_block_id(refused.milestone): refused.message}


# ---------------------------------------------------------------------------------------------------
# Small pieces
# ---------------------------------------------------------------------------------------------------


def _ids(view: Mapping[str, Any]) -> tuple[int, int]:
    data = state.metadata_of(view)
    incident_id, entry_id = data.get("incident_id"), data.get("entry_id")
    if not isinstance(incident_id, int) or not isinstance(entry_id, int):
        raise ValueError(f"not a timeline entry modal: private_metadata {data!r}")
    return incident_id, entry_id


def _picked(values: Mapping[str, Any], block_id: str) -> int | None:
    return state.picked_time(values, block_id)


def _metadata(data: Mapping[str, Any]) -> str:
    return json.dumps(dict(data), separators=(",", ":"))


def _incident_context(incident: Incident) -> Block:
    title = escape(truncate(incident.title, 128))
    return context_block(f"*{incident.reference} {title}* · {incident.status.label}")
