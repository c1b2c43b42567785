"""Follow-up actions in Slack (PRODUCT.md §4 Jira "Follow-up actions"): the text of
``/incident followup <text>``, the modal that makes a timeline entry a follow-up (next to its
parser), the confirmation, and the list of an incident's follow-ups.

A follow-up is a Jira issue linked to the incident's ticket. The text is its summary: one line,
whitespace collapsed, at most ``max_length`` characters (the service's limit, passed in so there is
one number). The service checks it again; checking here lets a command answer at its ack and a
modal show the problem on its input.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.blocks import state
from bot.blocks.fields import context_block, modal_view, section_block, text_input
from bot.blocks.help import Message
from bot.blocks.ids import BlockId, CallbackId
from bot.blocks.incident import link, safe
from bot.blocks.manage import FormInvalid
from bot.blocks.text import escape, local_time, truncate
from bot.domain.errors import UserFacingError
from bot.domain.incident import Incident

View = dict[str, Any]
Block = dict[str, Any]

JIRA_OFF = "Follow-ups are Jira issues, and Jira is not configured for FireFighter."
SECTION_MAX = 3000
MAX_LISTED = 100
"""Follow-ups listed in one message. A line is at most ~700 characters, so a section of 3000
holds at least four: 25 sections at most, within Slack's 50 blocks per message."""
URL_MAX = 200
"""A longer issue URL is not linked (the key alone is shown): it would crowd out the text."""


class FollowUpShown(Protocol):
    """What the list shows of a follow-up (``storage.tickets.FollowUp`` has it)."""

    @property
    def text(self) -> str: ...
    @property
    def key(self) -> str | None: ...
    @property
    def url(self) -> str | None: ...
    @property
    def status(self) -> str | None: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def done_at(self) -> datetime | None: ...
    def overdue(self, now: datetime) -> bool: ...


class FollowUpInvalid(UserFacingError):
    """A follow-up text Jira would not take as a summary (empty, too long)."""


def parse_followup_text(text: str, *, max_length: int, command: str = "/incident") -> str:
    """The summary ``text`` makes: whitespace collapsed to single spaces (a Jira summary is one
    line). Empty or longer than ``max_length``: ``FollowUpInvalid`` saying what to do."""
    summary = " ".join(text.split())
    if not summary:
        raise FollowUpInvalid(
            f"Say what needs doing: `{command} followup <text>`, "
            f"e.g. `{command} followup Add an alert on p99 latency`."
        )
    if len(summary) > max_length:
        raise FollowUpInvalid(
            f"A follow-up is a Jira summary: at most {max_length} characters "
            f"(this one has {len(summary)})."
        )
    return summary


# ---------------------------------------------------------------------------------------------------
# The modal (a timeline entry's "Make it a follow-up…", or the text after the picker)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FollowUpDraft:
    incident_id: int
    text: str
    channel_id: str | None = None
    """Where the modal was opened from: the confirmation goes there."""


def followup_modal(
    incident: Incident,
    text: str,
    *,
    max_length: int,
    due_days: int,
    channel_id: str | None = None,
) -> View:
    """The follow-up's text, prefilled (a timeline entry's text, cut to ``max_length``), to edit
    before it becomes a Jira issue due in ``due_days`` days. ``channel_id`` (where it was opened,
    where the confirmation goes) travels in the metadata."""
    prefill = " ".join(text.split())
    title = escape(truncate(incident.title, 128))
    blocks: list[Block] = [
        context_block(f"*{incident.reference} {title}* · {incident.status.label}"),
        text_input(
            BlockId.FOLLOWUP_TEXT,
            "What needs doing",
            initial=truncate(prefill, max_length),
            max_length=max_length,
            hint=(
                f"Created in Jira as an issue linked to the incident's ticket, due in "
                f"{due_days} day{'s' if due_days != 1 else ''}."
            ),
        ),
    ]
    metadata: dict[str, int | str] = {"incident_id": incident.id}
    if channel_id:
        metadata["channel"] = channel_id
    return modal_view(
        CallbackId.FOLLOWUP_MODAL,
        f"Follow-up on {incident.reference}",
        blocks,
        json.dumps(metadata, separators=(",", ":")),
        submit="Create follow-up",
    )


def parse_followup_modal(
    view: dict[str, Any], *, max_length: int, command: str = "/incident"
) -> FollowUpDraft:
    metadata = state.metadata_of(view)
    incident_id = metadata.get("incident_id")
    if not isinstance(incident_id, int) or isinstance(incident_id, bool):
        raise ValueError(f"not a follow-up modal: private_metadata {metadata!r}")
    channel_id = metadata.get("channel")
    raw = state.text(state.values_of(view), BlockId.FOLLOWUP_TEXT)
    try:
        text = parse_followup_text(raw, max_length=max_length, command=command)
    except FollowUpInvalid as invalid:
        raise FormInvalid({BlockId.FOLLOWUP_TEXT: invalid.message}) from None
    return FollowUpDraft(incident_id, text, channel_id if isinstance(channel_id, str) else None)


# ---------------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------------


def _message(text: str, blocks: list[Block]) -> Message:
    return {"response_type": "ephemeral", "text": truncate(text, 3000), "blocks": blocks}


def _issue(followup: FollowUpShown) -> str:
    if followup.key and followup.url and len(followup.url) <= URL_MAX:
        return link(followup.url, followup.key)
    if followup.key:
        return safe(followup.key, 50)
    return "_being created in Jira_"


def followup_added_message(incident: Incident, followup: FollowUpShown) -> Message:
    """The confirmation to the person who added it (the Jira key follows in the channel once the
    issue exists, unless it already does: a repeated request)."""
    summary = safe(followup.text, 300)
    if followup.key:
        text = f":ballot_box_with_check: Follow-up {_issue(followup)} on {incident.reference}: {summary}"
    else:
        text = (
            f":ballot_box_with_check: Follow-up added to {incident.reference}: {summary} — "
            "I'm creating it in Jira."
        )
    return _message(text, [section_block(text)])


def _line(followup: FollowUpShown, tz: ZoneInfo, now: datetime) -> str:
    parts = [_issue(followup), safe(followup.text, 300)]
    if followup.done_at is not None:
        parts.append(f":white_check_mark: {safe(followup.status or 'Done', 60)}")
    elif followup.status:
        parts.append(safe(followup.status, 60))
    if followup.due_at is not None and followup.done_at is None:
        due = f"due {local_time(followup.due_at, tz)}"
        parts.append(f":warning: *overdue* ({due})" if followup.overdue(now) else due)
    return "• " + " · ".join(parts)


def followups_message(
    incident: Incident,
    followups: Sequence[FollowUpShown],
    *,
    tz: ZoneInfo,
    now: datetime,
    command: str,
) -> Message:
    """``/incident followup`` without text: every follow-up of the incident with its Jira issue,
    status and due date (in ``tz``), the overdue ones marked."""
    add = f"Add one with `{command} followup <what needs doing>`."
    if not followups:
        text = f"No follow-up on {incident.reference} yet. {add}"
        return _message(text, [section_block(text)])
    overdue = sum(1 for f in followups if f.overdue(now))
    done = sum(1 for f in followups if f.done_at is not None)
    counts = f"{len(followups)} follow-up{'s' if len(followups) != 1 else ''}"
    counts += f" · {overdue} overdue · {done} done"
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"Follow-ups of {incident.reference}"},
        },
        context_block(f"*{incident.reference} {escape(truncate(incident.title, 128))}* · {counts}"),
    ]
    chunk = ""
    for line in (_line(followup, tz, now) for followup in followups[:MAX_LISTED]):
        if chunk and len(chunk) + 1 + len(line) > SECTION_MAX:
            blocks.append(section_block(chunk))
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    blocks.append(section_block(chunk))
    more = f"The first {MAX_LISTED} of {len(followups)}. " if len(followups) > MAX_LISTED else ""
    blocks.append(context_block(f"{more}Due dates in {tz.key} time. {add}"))
    return _message(f"Follow-ups of {incident.reference}: {counts}", blocks)
