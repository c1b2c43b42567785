"""The modals that work on an existing incident (PRODUCT.md §1-§2), each next to its parser.

Every incident modal carries ``private_metadata`` JSON ``{"incident_id": N, "version": V, ...}``:
the service compares the version and raises a conflict when the incident changed while the modal was
open; the handler then answers ``response_action: update`` with ``conflict_view`` of a fresh modal.
Parsers read ``view["state"]["values"]`` (``{block_id: {action_id: {"type": …, <value>}}}``) by block
id only, and raise ``FormInvalid`` (block id → message) for inputs that are wrong in themselves, which
the handler answers with ``response_action: errors``. Rules that need the incident's state (may it
close, is the justification long enough to reopen from Mitigated) stay in ``bot.domain``;
``refusal_form_errors`` maps the refusals a form can fix back onto its blocks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from bot.blocks import state
from bot.blocks.fields import (
    MAX_OPTIONS,
    OPTION_TEXT_MAX,
    context_block,
    custom_field_block_id,
    custom_field_input,
    custom_value,
    fields_for,
    input_block,
    modal_view,
    option,
    plain,
    section_block,
    set_initial_option,
    text_input,
)
from bot.blocks.home import PriorityStyle, style_of
from bot.blocks.ids import ActionId, BlockId, CallbackId
from bot.blocks.text import escape, fit, local_time, truncate
from bot.config import Catalog
from bot.domain.declaration import (
    FIELD_ENVIRONMENTS,
    FIELD_SUMMARY,
    FIELD_TITLE,
    IncidentChanges,
    validate_declaration,
)
from bot.domain.errors import UserFacingError
from bot.domain.incident import (
    SUMMARY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    BuiltinRole,
    ClosureReason,
    Incident,
    JsonValue,
    Milestone,
    Priority,
    ResponseType,
    Status,
)
from bot.domain.lifecycle import (
    JUSTIFICATION_MIN_LENGTH,
    Fix,
    Move,
    Reason,
    TransitionRefused,
    move_of,
)
from bot.domain.milestones import label as milestone_label

View = dict[str, Any]
Block = dict[str, Any]

MAX_BLOCKS = 100
MESSAGE_MAX_BLOCKS = 50
PRIVATE_METADATA_MAX = 3000
NOTE_MAX_LENGTH = 3000
TIMELINE_TEXT_MAX_LENGTH = 3000
JUSTIFICATION_MAX_LENGTH = 1000
PRIORITY_REASON_MAX_LENGTH = 500
REFERENCE_MAX_LENGTH = 150
MAX_REASONS = 40
"""Reasons listed in the close modal (two blocks each at most, within the 100-block limit)."""

CONFLICT_TEXT = (
    ":warning: *This incident changed while you were editing: here is its current state. "
    "Check and submit again.*"
)

CLOSURE_REASON_LABELS: dict[ClosureReason, str] = {
    ClosureReason.DUPLICATE: "Duplicate of another incident",
    ClosureReason.FALSE_ALARM: "False alarm",
    ClosureReason.SUPERSEDED: "Superseded by another incident",
    ClosureReason.EXTERNAL: "External (outside our control)",
    ClosureReason.CANCELLED: "Cancelled",
}

_FIX_LABELS: dict[str, str] = {
    Fix.MITIGATE_FIRST: "Change status",
    Fix.MOVE_TO_POSTMORTEM: "Move to Post-mortem",
    Fix.MARK_POSTMORTEM_READY: "Mark post-mortem ready",
    Fix.ADD_JUSTIFICATION: "Add a justification",
    Fix.CHOOSE_KEPT_INCIDENT: "Choose the kept incident",
}
_CLOSE_GATE_FIXES = frozenset(
    {Fix.MITIGATE_FIRST, Fix.MOVE_TO_POSTMORTEM, Fix.MARK_POSTMORTEM_READY, Fix.SET_MILESTONE}
)
_FORM_FIXES: dict[str, str] = {
    Fix.ADD_JUSTIFICATION: BlockId.JUSTIFICATION,
    Fix.CHOOSE_KEPT_INCIDENT: BlockId.CLOSURE_REFERENCE,
}
_KIND_CALLBACKS: dict[str, CallbackId] = {
    "update": CallbackId.UPDATE_MODAL,
    "status": CallbackId.STATUS_MODAL,
    "roles": CallbackId.ROLES_MODAL,
    "close": CallbackId.CLOSE_MODAL,
    "reopen": CallbackId.REOPEN_MODAL,
    "convert": CallbackId.CONVERT_MODAL,
    "note": CallbackId.NOTE_MODAL,
}
_REOPEN_TARGETS: dict[Status, tuple[Status, ...]] = {
    Status.MITIGATED: (Status.INVESTIGATING, Status.MITIGATING),
    Status.POSTMORTEM: (Status.INVESTIGATING, Status.MITIGATING),
    Status.CLOSED: (Status.INVESTIGATING,),
}
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")
USER_ID_MAX_LENGTH = 32
"""The longest user id the database holds (Slack's are about 11 characters)."""
_REFERENCE = re.compile(r"^#?\s*([0-9]+)$")


# ---------------------------------------------------------------------------------------------------
# Shared: metadata, errors, state reading
# ---------------------------------------------------------------------------------------------------


class FormInvalid(UserFacingError):
    """A submitted modal has inputs that are wrong in themselves; ``errors`` maps block id → message
    (the handler answers ``{"response_action": "errors", "errors": errors}``)."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        if not errors:
            raise ValueError("FormInvalid needs at least one error")
        super().__init__(" ".join(errors.values()))
        self.errors: dict[str, str] = dict(errors)


@dataclass(frozen=True, slots=True)
class ModalContext:
    """What an incident modal's ``private_metadata`` says: the incident, the version it showed, and
    any extra keys its builder stored."""

    incident_id: int
    version: int
    extra: Mapping[str, Any] = field(default_factory=dict)
    state: str | None = None
    """The incident's ``form_state`` when the form was built (None in forms built before it was
    recorded): a newer version with the same state is not a conflict."""


def modal_context(view: Mapping[str, Any]) -> ModalContext:
    """The ``ModalContext`` of a submitted incident modal; ``ValueError`` when the metadata is not
    one of ours (a forged or foreign view)."""
    data = state.metadata_of(view)
    incident_id, version = data.get("incident_id"), data.get("version")
    if not isinstance(incident_id, int) or not isinstance(version, int):
        raise ValueError(f"not an incident modal: private_metadata {data!r}")
    if isinstance(incident_id, bool) or isinstance(version, bool):
        raise ValueError(f"not an incident modal: private_metadata {data!r}")
    shown = data.get("state")
    extra = {k: v for k, v in data.items() if k not in ("incident_id", "version", "state")}
    return ModalContext(incident_id, version, extra, shown if isinstance(shown, str) else None)


def refusal_form_errors(refused: TransitionRefused) -> dict[str, str]:
    """Block id → message when every reason of a refusal can be fixed in the form just submitted
    (a too-short justification, a missing kept incident); empty otherwise (answer with
    ``refusal_message`` instead)."""
    errors: dict[str, str] = {}
    for reason in refused.reasons:
        block_id = _FORM_FIXES.get(reason.fix or "")
        if block_id is None:
            return {}
        errors[block_id] = (
            f"{errors[block_id]} {reason.text}" if block_id in errors else reason.text
        )
    return errors


# ---------------------------------------------------------------------------------------------------
# 1. Update: title, summary, category, environments, priority, custom fields
# ---------------------------------------------------------------------------------------------------


def update_modal(
    incident: Incident, catalog: Catalog, *, styles: Mapping[Priority, PriorityStyle]
) -> View:
    priority_options = [option(style_of(styles, p).label(p), p.label) for p in Priority]
    priority_select: Block = {
        "type": "static_select",
        "action_id": BlockId.UPDATE_PRIORITY,
        "options": priority_options,
    }
    set_initial_option(priority_select, priority_options, incident.priority.label)
    blocks: list[Block] = [
        _incident_context(incident, styles),
        text_input(
            BlockId.UPDATE_TITLE,
            "Title",
            initial=incident.title,
            max_length=TITLE_MAX_LENGTH,
        ),
        text_input(
            BlockId.UPDATE_SUMMARY,
            "Summary",
            initial=incident.summary,
            max_length=SUMMARY_MAX_LENGTH,
            multiline=True,
        ),
        input_block(BlockId.UPDATE_CATEGORY, "Category", _category_select(incident, catalog)),
        input_block(
            BlockId.UPDATE_ENVIRONMENTS, "Environments", _environment_select(incident, catalog)
        ),
        input_block(BlockId.UPDATE_PRIORITY, "Priority", priority_select),
        text_input(
            BlockId.UPDATE_PRIORITY_REASON,
            "Why change the priority?",
            optional=True,
            max_length=PRIORITY_REASON_MAX_LENGTH,
            hint="Recorded on the timeline with the priority change.",
        ),
    ]
    room = MAX_BLOCKS - len(blocks)
    blocks += [
        custom_field_input(custom, incident.custom_fields.get(custom.key), escaped=True)
        for custom in fields_for(catalog, incident.priority)[:room]
    ]
    return modal_view(
        CallbackId.UPDATE_MODAL,
        f"Update {incident.reference}",
        blocks,
        _incident_metadata(incident),
        submit="Save",
    )


def parse_update(view: Mapping[str, Any], catalog: Catalog) -> IncidentChanges:
    values = state.values_of(view)
    title = state.text(values, BlockId.UPDATE_TITLE).strip()
    summary = state.text(values, BlockId.UPDATE_SUMMARY).strip()
    environments = state.multi(values, BlockId.UPDATE_ENVIRONMENTS)
    problems = validate_declaration(
        title=title,
        summary=summary,
        environments=environments,
        known_environments=[env.key for env in catalog.environments],
    )
    blocks = {
        FIELD_TITLE: BlockId.UPDATE_TITLE,
        FIELD_SUMMARY: BlockId.UPDATE_SUMMARY,
        FIELD_ENVIRONMENTS: BlockId.UPDATE_ENVIRONMENTS,
    }
    errors: dict[str, str] = {
        blocks[name]: message for name, message in problems.items() if name in blocks
    }
    category = state.single(values, BlockId.UPDATE_CATEGORY)
    if category is None:
        errors[BlockId.UPDATE_CATEGORY] = "Choose a category."
    elif category not in {c.key for c in catalog.categories}:
        errors[BlockId.UPDATE_CATEGORY] = f"Unknown category {category!r}: choose another one."
    raw_priority = state.single(values, BlockId.UPDATE_PRIORITY)
    priority: Priority | None = None
    try:
        priority = Priority.parse(raw_priority or "")
    except ValueError:
        errors[BlockId.UPDATE_PRIORITY] = "Choose a priority."
    custom_fields: dict[str, JsonValue] = {}
    for custom in catalog.custom_fields:
        block_id = custom_field_block_id(custom)
        if block_id not in values:
            continue
        value, problem = custom_value(custom, state.value(values, block_id))
        if problem is None and value is None and custom.required:
            problem = f"{custom.label}: this field is required."
        if problem is not None:
            errors[block_id] = problem
        else:
            custom_fields[custom.key] = value
    if errors:
        raise FormInvalid(errors)
    assert category is not None and priority is not None
    return IncidentChanges(
        title=title,
        summary=summary,
        category=category,
        environments=tuple(environments),
        custom_fields=custom_fields,
        priority=priority,
        priority_reason=state.text(values, BlockId.UPDATE_PRIORITY_REASON).strip() or None,
    )


def _category_select(incident: Incident, catalog: Catalog) -> Block:
    groups: list[Block] = []
    every: list[Block] = []
    for group in catalog.groups:
        options = [
            option(c.name, c.key, description=c.description)
            for c in catalog.categories
            if c.group == group.key
        ]
        for start in range(0, len(options), MAX_OPTIONS):
            chunk = options[start : start + MAX_OPTIONS]
            name = group.name if start == 0 else f"{group.name} ({start // MAX_OPTIONS + 1})"
            groups.append({"label": plain(fit(name, OPTION_TEXT_MAX)), "options": chunk})
            every += chunk
    element: Block = {
        "type": "static_select",
        "action_id": BlockId.UPDATE_CATEGORY,
        "placeholder": plain("Choose a category"),
        "option_groups": groups[:MAX_OPTIONS],
    }
    set_initial_option(element, every, incident.category)
    return element


def _environment_select(incident: Incident, catalog: Catalog) -> Block:
    options = [option(env.name, env.key) for env in catalog.environments][:MAX_OPTIONS]
    by_value = {option["value"]: option for option in options}
    element: Block = {
        "type": "multi_static_select",
        "action_id": BlockId.UPDATE_ENVIRONMENTS,
        "placeholder": plain("Choose the environments (the first is primary)"),
        "options": options,
    }
    initial = [by_value[env] for env in incident.environments if env in by_value]
    if initial:
        element["initial_options"] = initial
    return element


# ---------------------------------------------------------------------------------------------------
# 2. Status
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusChoice:
    status: Status
    justification: str | None


_MOVE_HINTS: dict[Move, str] = {
    Move.STEP_BACK: "Back to investigating: nothing is reopened.",
    Move.REOPEN_FROM_MITIGATED: "Reopens the incident: needs a justification.",
    Move.REOPEN_AFTER_CLOSE: "Reopens the incident: needs a justification.",
    Move.TO_POSTMORTEM: "Impact resolved; the post-mortem is due before closing.",
    Move.CLOSE: "Checks what closing needs and lists anything missing.",
}


def status_modal(incident: Incident, targets: Sequence[Status]) -> View:
    """The statuses offered (``allowed_targets``) as radio buttons, and a justification that the
    domain demands (at least 10 characters) when the move reopens the incident."""
    blocks: list[Block] = [_incident_context(incident)]
    if not targets:
        blocks.append(
            section_block(
                f"{incident.reference} is {incident.status.label}: no status change is possible."
            )
        )
        return modal_view(
            CallbackId.STATUS_MODAL,
            f"Status of {incident.reference}",
            blocks,
            _incident_metadata(incident),
        )
    options = []
    for target in targets:
        hint = _MOVE_HINTS.get(move_of(incident.status, target))
        options.append(option(target.label, target.value, description=hint or "", escaped=False))
    blocks += [
        input_block(
            BlockId.STATUS,
            f"New status (now {incident.status.label})",
            {"type": "radio_buttons", "action_id": BlockId.STATUS, "options": options[:10]},
        ),
        text_input(
            BlockId.JUSTIFICATION,
            "Justification",
            optional=True,
            multiline=True,
            max_length=JUSTIFICATION_MAX_LENGTH,
            hint=(
                f"Required to reopen (at least {JUSTIFICATION_MIN_LENGTH} characters); "
                "recorded on the timeline."
            ),
        ),
    ]
    return modal_view(
        CallbackId.STATUS_MODAL,
        f"Status of {incident.reference}",
        blocks,
        _incident_metadata(incident),
        submit="Change status",
    )


def parse_status(view: Mapping[str, Any]) -> StatusChoice:
    values = state.values_of(view)
    raw = state.single(values, BlockId.STATUS)
    try:
        status = Status(raw or "")
    except ValueError:
        raise FormInvalid({BlockId.STATUS: "Choose the new status."}) from None
    return StatusChoice(status, state.text(values, BlockId.JUSTIFICATION).strip() or None)


# ---------------------------------------------------------------------------------------------------
# 3. Roles
# ---------------------------------------------------------------------------------------------------


def roles_modal(incident: Incident, catalog: Catalog, holders: Mapping[str, str]) -> View:
    """One users_select per catalog role (current holder preselected); the commander, and roles
    the catalog marks as required, cannot be left empty."""
    blocks: list[Block] = [_incident_context(incident)]
    for role in catalog.roles[: MAX_BLOCKS - 1]:
        block_id = f"{BlockId.ROLE_PREFIX}{role.key}"
        element: Block = {
            "type": "users_select",
            "action_id": block_id,
            "placeholder": plain("Choose someone"),
        }
        holder = holders.get(role.key)
        if holder and _USER_ID.match(holder):
            element["initial_user"] = holder
        required = role.required or role.key == BuiltinRole.COMMANDER
        blocks.append(
            input_block(
                block_id, role.name, element, optional=not required, hint=role.duties or None
            )
        )
    return modal_view(
        CallbackId.ROLES_MODAL,
        f"Roles of {incident.reference}",
        blocks,
        _incident_metadata(incident),
        submit="Save",
    )


def parse_roles(view: Mapping[str, Any]) -> dict[str, str]:
    """Role key → user id for every role with someone chosen (absent: nobody)."""
    values = state.values_of(view)
    roles: dict[str, str] = {}
    errors: dict[str, str] = {}
    for block_id in values:
        if not block_id.startswith(BlockId.ROLE_PREFIX):
            continue
        user = state.single(values, block_id)
        if user and (len(user) > USER_ID_MAX_LENGTH or not _USER_ID.match(user)):
            errors[block_id] = "Choose someone from the list."  # not a Slack user id: forged
        elif user:
            roles[block_id.removeprefix(BlockId.ROLE_PREFIX)] = user
    if errors:
        raise FormInvalid(errors)
    commander = f"{BlockId.ROLE_PREFIX}{BuiltinRole.COMMANDER}"
    if BuiltinRole.COMMANDER not in roles:
        raise FormInvalid({commander: "An incident always has a commander: choose someone."})
    return roles


# ---------------------------------------------------------------------------------------------------
# 4. Close, and refusals shown outside the modal
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CloseChoice:
    """``closure_reason`` set: an early closure (bypassing the close gate)."""

    closure_reason: ClosureReason | None
    reference: str | None
    justification: str | None


def close_modal(incident: Incident, blockers: Sequence[Reason]) -> View:
    """With ``blockers`` (``close_blockers``): each reason with a button for its fix, then the early
    closure (a reason is then required). Without: a confirmation, an early-closure reason optional."""
    blocks: list[Block] = [_incident_context(incident)]
    if blockers:
        blocks.append(section_block(f"*{incident.reference} cannot be closed yet:*"))
        blocks += _reason_blocks(incident, blockers)
        blocks += [
            {"type": "divider"},
            section_block(
                "*Or close early*: a closure reason bypasses these checks; "
                "it is recorded on the timeline."
            ),
        ]
        submit = "Close early"
    else:
        blocks.append(
            section_block(
                f"Close *{incident.reference} {escape(truncate(incident.title, 128))}*? "
                + (
                    "A closing summary is posted and the channel is archived."
                    if incident.channel_id
                    else "A closing summary is recorded on the timeline."
                )
            )
        )
        submit = "Close incident"
    reason_options = [
        option(text, reason.value, escaped=False) for reason, text in CLOSURE_REASON_LABELS.items()
    ]
    blocks += [
        input_block(
            BlockId.CLOSURE_REASON,
            "Closure reason" if blockers else "Early-closure reason",
            {
                "type": "static_select",
                "action_id": BlockId.CLOSURE_REASON,
                "placeholder": plain("Why close early?"),
                "options": reason_options,
            },
            optional=not blockers,
        ),
        text_input(
            BlockId.CLOSURE_REFERENCE,
            "Kept incident or reference",
            optional=True,
            max_length=REFERENCE_MAX_LENGTH,
            placeholder="#123",
            hint="For a duplicate: the number of the incident you keep.",
        ),
        text_input(
            BlockId.JUSTIFICATION,
            "Justification",
            optional=True,
            multiline=True,
            max_length=JUSTIFICATION_MAX_LENGTH,
            hint="Recorded on the timeline.",
        ),
    ]
    return modal_view(
        CallbackId.CLOSE_MODAL,
        f"Close {incident.reference}",
        blocks,
        _incident_metadata(incident, early_required=bool(blockers)),
        submit=submit,
    )


def parse_close(view: Mapping[str, Any]) -> CloseChoice:
    context = modal_context(view)
    values = state.values_of(view)
    errors: dict[str, str] = {}
    raw_reason = state.single(values, BlockId.CLOSURE_REASON)
    reason: ClosureReason | None = None
    if raw_reason is not None:
        try:
            reason = ClosureReason(raw_reason)
        except ValueError:
            errors[BlockId.CLOSURE_REASON] = "Unknown closure reason: choose again."
    elif context.extra.get("early_required"):
        errors[BlockId.CLOSURE_REASON] = (
            "Choose why you close early, or fix the reasons above first."
        )
    reference = state.text(values, BlockId.CLOSURE_REFERENCE).strip() or None
    if reason is ClosureReason.DUPLICATE:
        match = _REFERENCE.match(reference or "")
        kept = int(match.group(1)) if match else 0
        if kept <= 0:
            errors[BlockId.CLOSURE_REFERENCE] = (
                "Give the number of the incident you keep (e.g. #123)."
            )
        elif kept == context.incident_id:
            errors[BlockId.CLOSURE_REFERENCE] = (
                f"#{kept} cannot be a duplicate of itself: give the incident you keep."
            )
        reference = f"#{kept}"
    elif reference is not None and raw_reason is None:
        errors[BlockId.CLOSURE_REFERENCE] = (
            "A reference goes with an early-closure reason: choose one, or clear this field."
        )
    if errors:
        raise FormInvalid(errors)
    return CloseChoice(reason, reference, state.text(values, BlockId.JUSTIFICATION).strip() or None)


def refusal_message(
    incident: Incident, refused: TransitionRefused, *, headline: str | None = None
) -> dict[str, Any]:
    """An ephemeral message listing why a transition was refused, with a button per fix (and, for
    the close gate, a button opening the close modal for an early closure)."""
    closing = any(
        (reason.fix or "").split(":", 1)[0] in _CLOSE_GATE_FIXES for reason in refused.reasons
    )
    if headline is None:
        headline = (
            f"{incident.reference} cannot be closed yet:"
            if closing
            else f"{incident.reference}: this is not possible yet."
        )
    blocks: list[Block] = [section_block(f":no_entry: *{escape(headline)}*")]
    blocks += _reason_blocks(incident, refused.reasons, limit=MESSAGE_MAX_BLOCKS - 3)
    if closing:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ActionId.OPEN_MODAL,
                        "text": plain("Close early…"),
                        "value": f"{incident.id}:close",
                    }
                ],
            }
        )
    text = truncate(f"{headline} {refused.message}", 3000)
    return {"response_type": "ephemeral", "text": escape(text), "blocks": blocks}


def _reason_blocks(
    incident: Incident, reasons: Sequence[Reason], *, limit: int = MAX_REASONS
) -> list[Block]:
    blocks: list[Block] = []
    shown = reasons[:limit] if len(reasons) <= limit else reasons[: limit - 1]
    for index, reason in enumerate(shown):
        block = section_block(f"• {escape(reason.text)}")
        if reason.fix:
            block["accessory"] = {
                "type": "button",
                "action_id": f"{ActionId.FIX}.{index}",
                "text": plain(fit(fix_label(reason.fix), OPTION_TEXT_MAX)),
                "value": f"{incident.id}:{reason.fix}",
            }
        blocks.append(block)
    if len(shown) < len(reasons):
        blocks.append(context_block(f"…and {len(reasons) - len(shown)} more."))
    return blocks


def fix_label(fix: str) -> str:
    """The button text of a fix: ``set_milestone:started_at`` → ``Set Impact started``."""
    kind, _, argument = fix.partition(":")
    if kind == Fix.SET_MILESTONE and argument:
        try:
            return f"Set {milestone_label(Milestone(argument))}"
        except ValueError:
            return "Set the time"
    return _FIX_LABELS.get(fix, "Fix it")


# ---------------------------------------------------------------------------------------------------
# 5. Reopen
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReopenChoice:
    status: Status
    justification: str


def reopen_modal(incident: Incident) -> View:
    """Back to Investigating (default) or, from Mitigated/Post-mortem, Mitigating; a justification
    of at least 10 characters is required."""
    targets = _REOPEN_TARGETS.get(incident.status, ())
    blocks: list[Block] = [_incident_context(incident)]
    title = f"Reopen {incident.reference}"
    if not targets:
        blocks.append(
            section_block(
                f"{incident.reference} is {incident.status.label}: it is still open, "
                "there is nothing to reopen."
            )
        )
        return modal_view(CallbackId.REOPEN_MODAL, title, blocks, _incident_metadata(incident))
    cleared = (
        "Mitigated, Resolved and Closed" if incident.status.is_closed else "Mitigated and Resolved"
    )
    explanation = (
        f"Reopening clears its {cleared} times; they are set again as the incident moves on."
    )
    if incident.status.is_closed:
        explanation += " Only the commander or an incident manager can reopen a closed incident."
    blocks.append(section_block(explanation))
    if len(targets) > 1:
        options = [option(s.label, s.value, escaped=False) for s in targets]
        blocks.append(
            input_block(
                BlockId.STATUS,
                "Reopen to",
                {
                    "type": "radio_buttons",
                    "action_id": BlockId.STATUS,
                    "options": options,
                    "initial_option": options[0],
                },
            )
        )
    blocks.append(
        text_input(
            BlockId.JUSTIFICATION,
            "Why reopen?",
            multiline=True,
            max_length=JUSTIFICATION_MAX_LENGTH,
            hint=f"At least {JUSTIFICATION_MIN_LENGTH} characters; recorded on the timeline.",
        )
    )
    return modal_view(
        CallbackId.REOPEN_MODAL, title, blocks, _incident_metadata(incident), submit="Reopen"
    )


def parse_reopen(view: Mapping[str, Any]) -> ReopenChoice:
    values = state.values_of(view)
    errors: dict[str, str] = {}
    raw = state.single(values, BlockId.STATUS)
    status = Status.INVESTIGATING
    if raw is not None:
        if raw in (Status.INVESTIGATING, Status.MITIGATING):
            status = Status(raw)
        else:
            errors[BlockId.STATUS] = "Reopen to Investigating or Mitigating."
    justification = state.text(values, BlockId.JUSTIFICATION).strip()
    if len(justification) < JUSTIFICATION_MIN_LENGTH:
        errors[BlockId.JUSTIFICATION] = (
            f"Say why you reopen it, in at least {JUSTIFICATION_MIN_LENGTH} characters "
            f"({len(justification)} given)."
        )
    if errors:
        raise FormInvalid(errors)
    return ReopenChoice(status, justification)


# ---------------------------------------------------------------------------------------------------
# 6. Convert a lowered incident to a normal one
# ---------------------------------------------------------------------------------------------------


def convert_modal(incident: Incident) -> View:
    """Confirm converting a critical incident lowered to P4/P5 into a normal one."""
    blocks: list[Block] = [_incident_context(incident)]
    title = f"Convert {incident.reference}"
    if incident.priority <= Priority.P3 or incident.response_type is not ResponseType.CRITICAL:
        why = (
            f"it is {incident.priority.label}"
            if incident.priority <= Priority.P3
            else "it is already a normal incident"
        )
        blocks.append(
            section_block(
                f"{incident.reference} cannot be converted: {why}. Only a P1-P3 incident "
                "lowered to P4 or P5 can become a normal incident."
            )
        )
        return modal_view(CallbackId.CONVERT_MODAL, title, blocks, _incident_metadata(incident))
    blocks.append(
        section_block(
            f"*{incident.reference}* is now {incident.priority.label}: convert it to a normal "
            "incident? The channel is archived, the Jira ticket stays open, and the incident "
            "stays manageable from the App Home and the slash command."
        )
    )
    return modal_view(
        CallbackId.CONVERT_MODAL,
        title,
        blocks,
        _incident_metadata(incident),
        submit="Convert",
        close="Keep the channel",
    )


def parse_convert(view: Mapping[str, Any]) -> ModalContext:
    """Nothing to fill: the incident (and version) to convert."""
    return modal_context(view)


# ---------------------------------------------------------------------------------------------------
# 7. Note
# ---------------------------------------------------------------------------------------------------


def note_modal(incident: Incident) -> View:
    blocks = [
        _incident_context(incident),
        text_input(
            BlockId.NOTE,
            "Note",
            multiline=True,
            max_length=NOTE_MAX_LENGTH,
            hint=f"Added to the timeline of {incident.reference}.",
        ),
    ]
    return modal_view(
        CallbackId.NOTE_MODAL,
        f"Note on {incident.reference}",
        blocks,
        _incident_metadata(incident),
        submit="Add note",
    )


def parse_note(view: Mapping[str, Any]) -> str:
    text = state.text(state.values_of(view), BlockId.NOTE).strip()
    if not text:
        raise FormInvalid({BlockId.NOTE: "Write the note."})
    if len(text) > NOTE_MAX_LENGTH:
        raise FormInvalid(
            {BlockId.NOTE: f"A note has at most {NOTE_MAX_LENGTH} characters ({len(text)} given)."}
        )
    return text


# ---------------------------------------------------------------------------------------------------
# 8. Incident picker (a command run outside an incident channel)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PickerChoice:
    incident_id: int
    action: str
    extra: Mapping[str, Any] = field(default_factory=dict)


def incident_picker_modal(
    incidents: Sequence[Incident],
    *,
    action: str,
    styles: Mapping[Priority, PriorityStyle],
    prompt: str,
    extra: Mapping[str, JsonValue] | None = None,
    callback_id: str = CallbackId.PICK_INCIDENT_MODAL,
) -> View:
    """A select of the incidents the user may act on (the first 100, in the order given).
    ``prompt`` is mrkdwn written by the caller; ``action`` and ``extra`` come back in
    ``parse_picker`` (keep ``extra`` small: ids and timestamps, not message texts).
    ``callback_id`` says which listener gets the submission (a subcommand with its own picker)."""
    metadata = _dumps({"action": action, "extra": dict(extra or {})})
    blocks: list[Block] = [section_block(prompt)]
    if not incidents:
        blocks.append(section_block("There is no open incident you can act on."))
        return modal_view(callback_id, "Choose an incident", blocks, metadata)
    options = [_incident_option(i, styles) for i in incidents[:MAX_OPTIONS]]
    blocks.append(
        input_block(
            BlockId.PICK_INCIDENT,
            "Incident",
            {
                "type": "static_select",
                "action_id": BlockId.PICK_INCIDENT,
                "placeholder": plain("Choose an incident"),
                "options": options,
            },
        )
    )
    if len(incidents) > MAX_OPTIONS:
        blocks.append(
            context_block(
                f"Showing {MAX_OPTIONS} of {len(incidents)} incidents: run the command in the "
                "incident's channel to act on another one."
            )
        )
    return modal_view(callback_id, "Choose an incident", blocks, metadata, submit="Next")


def parse_picker(view: Mapping[str, Any]) -> PickerChoice:
    data = state.metadata_of(view)
    action = data.get("action")
    if not isinstance(action, str):
        raise ValueError(f"not an incident picker: private_metadata {data!r}")
    extra = data.get("extra")
    incident_id = _incident_id(state.single(state.values_of(view), BlockId.PICK_INCIDENT))
    if incident_id is None:
        raise FormInvalid({BlockId.PICK_INCIDENT: "Choose an incident."})
    return PickerChoice(incident_id, action, extra if isinstance(extra, dict) else {})


# ---------------------------------------------------------------------------------------------------
# 9. "Add to incident timeline" message shortcut
# ---------------------------------------------------------------------------------------------------


class TimelineAddition(NamedTuple):
    incident_id: int
    text: str
    source: dict[str, Any]


def add_to_timeline_modal(
    incidents: Sequence[Incident],
    *,
    preselected: int | None,
    message_text: str,
    source: Mapping[str, JsonValue],
) -> View:
    """Pick the incident (preselected inside an incident channel) and edit the text to add.
    ``source`` (channel, ts, permalink…) travels in ``private_metadata``."""
    metadata = _dumps({"source": dict(source)})
    title = "Add to timeline"
    if not incidents:
        blocks = [section_block("There is no open incident you can add this message to.")]
        return modal_view(CallbackId.ADD_TO_TIMELINE_MODAL, title, blocks, metadata)
    shown = list(incidents[:MAX_OPTIONS])
    if preselected is not None and all(i.id != preselected for i in shown):
        chosen = [i for i in incidents if i.id == preselected]
        shown = [*chosen, *shown][:MAX_OPTIONS]
    options = [_incident_option(i) for i in shown]
    select: Block = {
        "type": "static_select",
        "action_id": BlockId.PICK_INCIDENT,
        "placeholder": plain("Choose an incident"),
        "options": options,
    }
    if preselected is not None:
        set_initial_option(select, options, str(preselected))
    blocks = [
        input_block(BlockId.PICK_INCIDENT, "Incident", select),
        text_input(
            BlockId.TIMELINE_TEXT,
            "Text",
            initial=truncate(message_text, TIMELINE_TEXT_MAX_LENGTH),
            multiline=True,
            max_length=TIMELINE_TEXT_MAX_LENGTH,
            hint="Added to the timeline with a link to the message.",
        ),
    ]
    return modal_view(CallbackId.ADD_TO_TIMELINE_MODAL, title, blocks, metadata, submit="Add")


def parse_add_to_timeline(view: Mapping[str, Any]) -> TimelineAddition:
    values = state.values_of(view)
    errors: dict[str, str] = {}
    incident_id = _incident_id(state.single(values, BlockId.PICK_INCIDENT))
    if incident_id is None:
        errors[BlockId.PICK_INCIDENT] = "Choose an incident."
    text = state.text(values, BlockId.TIMELINE_TEXT).strip()
    if not text:
        errors[BlockId.TIMELINE_TEXT] = "Write what to add to the timeline."
    elif len(text) > TIMELINE_TEXT_MAX_LENGTH:
        errors[BlockId.TIMELINE_TEXT] = (
            f"At most {TIMELINE_TEXT_MAX_LENGTH} characters ({len(text)} given)."
        )
    if errors:
        raise FormInvalid(errors)
    assert incident_id is not None
    source = state.metadata_of(view).get("source")
    return TimelineAddition(incident_id, text, source if isinstance(source, dict) else {})


# ---------------------------------------------------------------------------------------------------
# 10. A stale submission
# ---------------------------------------------------------------------------------------------------


def conflict_view(kind: str, fresh_view: Mapping[str, Any]) -> View:
    """``fresh_view`` (the modal of the same ``kind`` rebuilt from the current incident) with a
    warning on top: the handler answers a stale submission with ``response_action: update``."""
    expected = _KIND_CALLBACKS.get(kind)
    if expected is None:
        raise ValueError(f"unknown modal kind {kind!r} (known: {', '.join(_KIND_CALLBACKS)})")
    if fresh_view.get("callback_id") != expected:
        raise ValueError(f"a {kind} conflict needs a fresh {expected} view")
    warning = section_block(CONFLICT_TEXT)
    blocks = [b for b in fresh_view.get("blocks", []) if b != warning]
    if len(blocks) + 1 > MAX_BLOCKS:
        blocks = [b for b in blocks if b.get("type") != "context"][: MAX_BLOCKS - 1]
    return {**fresh_view, "blocks": [warning, *blocks]}


# ---------------------------------------------------------------------------------------------------
# Small pieces
# ---------------------------------------------------------------------------------------------------


def _incident_metadata(incident: Incident, **extra: JsonValue) -> str:
    return _dumps(
        {
            "incident_id": incident.id,
            "version": incident.version,
            "state": incident.form_state,
            **extra,
        }
    )


def _dumps(data: Mapping[str, Any]) -> str:
    # ASCII only: the length Slack counts is then the length Python counts.
    text = json.dumps(data, separators=(",", ":"))
    if len(text) > PRIVATE_METADATA_MAX:
        raise ValueError(
            f"private_metadata would be {len(text)} characters (Slack allows "
            f"{PRIVATE_METADATA_MAX}): pass references, not contents"
        )
    return text


def _incident_context(
    incident: Incident, styles: Mapping[Priority, PriorityStyle] | None = None
) -> Block:
    priority = (
        style_of(styles, incident.priority).label(incident.priority)
        if styles is not None
        else incident.priority.label
    )
    title = escape(truncate(incident.title, 128))
    return context_block(f"*{incident.reference} {title}* · {priority} · {incident.status.label}")


def _incident_option(
    incident: Incident, styles: Mapping[Priority, PriorityStyle] | None = None
) -> Block:
    """``#12 P2 Checkout down…`` (75 characters at most), its status underneath."""
    text = f"{incident.reference} {incident.priority.label} {incident.title}"
    description = incident.status.label
    if styles is not None:
        description = f"{style_of(styles, incident.priority).name} · {description}"
    return option(text, str(incident.id), description=description)


def _incident_id(value: str | None) -> int | None:
    return state.row_id(value)


# ---------------------------------------------------------------------------------------------------
# 11. One milestone (a close-gate fix), and the offer to convert a lowered incident
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MilestoneChoice:
    milestone: Milestone
    value: datetime


def milestone_modal(incident: Incident, milestone: Milestone, tz: ZoneInfo) -> View:
    """A date and time for one milestone (its current value preselected)."""
    name = milestone_label(milestone)
    current = incident.milestones.get(milestone)
    element: Block = {"type": "datetimepicker", "action_id": BlockId.MILESTONE}
    if current is not None:
        element["initial_date_time"] = int(current.timestamp())
    shown = local_time(current, tz) if current is not None else "not set"
    blocks: list[Block] = [
        _incident_context(incident),
        input_block(
            BlockId.MILESTONE,
            name,
            element,
            hint=f"Now {shown}. Recorded on the timeline.",
        ),
    ]
    return modal_view(
        CallbackId.MILESTONE_MODAL,
        f"{name} of {incident.reference}",
        blocks,
        _incident_metadata(incident, milestone=milestone.value),
        submit="Save",
    )


def parse_milestone(view: Mapping[str, Any]) -> MilestoneChoice:
    raw = state.metadata_of(view).get("milestone")
    try:
        milestone = Milestone(raw if isinstance(raw, str) else "")
    except ValueError:
        raise ValueError(f"not a milestone modal: private_metadata {raw!r}") from None
    stamp = state.picked_time(state.values_of(view), BlockId.MILESTONE)
    if stamp is None:
        raise FormInvalid({BlockId.MILESTONE: "Choose a date and a time."})
    return MilestoneChoice(milestone, datetime.fromtimestamp(stamp, UTC))


def conversion_offer_message(incident: Incident) -> dict[str, Any]:
    """Told to whoever lowered a critical incident to P4/P5: a button opening the convert modal."""
    text = (
        f"{incident.reference} is now {incident.priority.label}: it can become a normal incident "
        "(its channel is archived)."
    )
    button: Block = {
        "type": "button",
        "action_id": f"{ActionId.OPEN_MODAL}.convert",
        "text": plain("Convert…"),
        "value": f"{incident.id}:convert",
    }
    return {
        "text": text,
        "blocks": [
            {**section_block(f":arrow_down: {text}"), "accessory": button},
        ],
    }
