"""Every Slack id the bot owns (action, callback and block ids), as one contract between builders,
parsers and listeners. Convention: ``"<area>.<thing>"``."""

from __future__ import annotations

from enum import StrEnum


class CallbackId(StrEnum):
    """Shortcut and view callback ids (the shortcut ones are declared in slack-manifest.yaml)."""

    DECLARE_SHORTCUT = "incident.declare"
    DECLARE_FROM_MESSAGE = "incident.declare_from_message"
    ADD_TO_TIMELINE = "incident.add_to_timeline"
    HOME = "home.view"
    DECLARE_MODAL = "incident.declare_modal"
    UPDATE_MODAL = "incident.update_modal"
    STATUS_MODAL = "incident.status_modal"
    ROLES_MODAL = "incident.roles_modal"
    CLOSE_MODAL = "incident.close_modal"
    REOPEN_MODAL = "incident.reopen_modal"
    CONVERT_MODAL = "incident.convert_modal"
    NOTE_MODAL = "incident.note_modal"
    PICK_INCIDENT_MODAL = "incident.pick_modal"
    ADD_TO_TIMELINE_MODAL = "incident.add_to_timeline_modal"
    MILESTONE_MODAL = "incident.milestone_modal"


class ActionId(StrEnum):
    """Interactive element ids."""

    HOME_OPEN_CHANNEL = "home.open_channel"
    HOME_SHOW_MORE = "home.show_more"
    HELP_OPEN_HOME = "help.open_home"
    DECLARE_IMPACT = "declare.impact"
    """Every impact select (one per impact type, told apart by block id): updates the live priority."""
    DECLARE_OVERRIDE = "declare.override"
    DECLARE_CATEGORY = "declare.category"
    DECLARE_JOIN_EXISTING = "declare.join_existing"
    """Duplicate guard: join this open incident (value: incident id) instead of declaring."""
    FIX = "incident.fix"
    """A button fixing one reason a close was refused; value ``"<incident id>:<fix>"``."""
    OPEN_MODAL = "incident.open_modal"
    """A button opening one of the incident modals; value ``"<incident id>:<modal>"``
    (update, status, roles, close, reopen, note, convert)."""
    CONVERT_ACCEPT = "incident.convert_accept"
    TIMELINE_MORE = "incident.timeline_more"
    REMINDER_SNOOZE = "reminder.snooze"
    """A reminder's "Snooze 1 h"; value ``"<incident id>:<reminder kind>"``."""
    REMINDER_MUTE = "reminder.mute"
    """A reminder's "Mute"; value ``"<incident id>:<reminder kind>"``. ("Post update" and the
    status and roles buttons of reminders are ``OPEN_MODAL`` buttons.)"""


class BlockId(StrEnum):
    """Block ids that listeners or parsers look up."""

    HOME_HEADER = "home.header"
    HOME_MINE = "home.mine"
    HOME_OPEN = "home.open"
    HOME_CLOSED = "home.closed"
    HOME_EMPTY = "home.empty"
    HOME_MORE = "home.more"
    DECLARE_GUARD = "declare.guard"
    DECLARE_PRIORITY = "declare.priority"
    """The live priority preview (a section, not an input)."""
    DECLARE_OVERRIDE = "declare.override"
    DECLARE_OVERRIDE_REASON = "declare.override_reason"
    DECLARE_TITLE = "declare.title"
    DECLARE_SUMMARY = "declare.summary"
    DECLARE_CATEGORY = "declare.category"
    DECLARE_ENVIRONMENTS = "declare.environments"
    DECLARE_PRIVATE = "declare.private"
    DECLARE_IMPACT_PREFIX = "declare.impact."
    """``declare.impact.<impact type key>``: one input block per impact type."""
    CUSTOM_FIELD_PREFIX = "field."
    """``field.<custom field key>``: one input block per custom field (declare and update)."""
    UPDATE_TITLE = "update.title"
    UPDATE_SUMMARY = "update.summary"
    UPDATE_CATEGORY = "update.category"
    UPDATE_ENVIRONMENTS = "update.environments"
    UPDATE_PRIORITY = "update.priority"
    UPDATE_PRIORITY_REASON = "update.priority_reason"
    STATUS = "status.to"
    JUSTIFICATION = "status.justification"
    CLOSURE_REASON = "close.reason"
    CLOSURE_REFERENCE = "close.reference"
    ROLE_PREFIX = "role."
    """``role.<role key>``: one users_select per role in the roles modal."""
    NOTE = "note.text"
    PICK_INCIDENT = "pick.incident"
    TIMELINE_TEXT = "timeline.text"
    MILESTONE = "milestone.value"
