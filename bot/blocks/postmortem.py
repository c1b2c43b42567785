"""``/incident postmortem`` in Slack: what the person who asked is told. The page itself is built
by ``bot.postmortem`` (Confluence storage format, not Block Kit)."""

from __future__ import annotations

from typing import Any

from bot.blocks.fields import section_block
from bot.blocks.help import Message
from bot.blocks.ids import CallbackId
from bot.blocks.incident import link, safe
from bot.blocks.text import escape, truncate
from bot.domain.incident import Incident

PICK_POSTMORTEM_INCIDENT_CALLBACK = CallbackId.PICK_POSTMORTEM_INCIDENT_MODAL
"""The picker's callback outside an incident channel (its id lives in ids.py with the others)."""
CONFLUENCE_OFF = "Post-mortems are written in Confluence, which is not configured for FireFighter."
NO_INCIDENT = "There is no incident whose post-mortem you can write."


def _message(text: str) -> Message:
    blocks: list[dict[str, Any]] = [section_block(text)]
    return {"response_type": "ephemeral", "text": truncate(text, 3000), "blocks": blocks}


def postmortem_message(
    incident: Incident, *, title: str, url: str, ready: bool, hint: str | None
) -> Message:
    """The post-mortem exists: its link, and whether it counts as ready (else what to do)."""
    page = link(url, title)
    if ready:
        state = "It is marked ready."
    else:
        state = f"Not ready yet: {escape(hint)}" if hint else "Not ready yet."
    return _message(
        f":memo: The post-mortem of {incident.reference} *{safe(incident.title, 150)}*: {page}. "
        f"{state}"
    )


def postmortem_queued_message(incident: Incident) -> Message:
    """The page is being written (the outbox does it): its link follows in the channel."""
    return _message(
        f":memo: I'm writing the post-mortem of {incident.reference} "
        f"*{safe(incident.title, 150)}* in Confluence: its link will be posted in the incident's "
        "channel (and bookmarked) in a moment."
    )
