"""The status lifecycle (PRODUCT.md §1): one transition table and the gates it names.

``TRANSITIONS`` says, for every (from, to) pair of statuses, what kind of move it is; ``transition``
applies the rules of that kind and returns the new incident plus the timeline events to append, or
raises ``TransitionRefused`` with every reason (each with a machine-readable ``fix`` the UI turns
into a button). Every entry point (Slack, scheduler, Jira and PagerDuty syncs) goes through it.

The catalog facts come in as ``LifecycleRules`` (built by the caller from the configuration), so
this module needs no configuration code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import UserFacingError
from bot.domain.events import TimelineEvent, iso
from bot.domain.incident import (
    Actor,
    ClosureReason,
    Incident,
    JsonValue,
    Milestone,
    Milestones,
    Status,
    TimelineKind,
)
from bot.domain.milestones import (
    describe_violation,
    earliest_allowed,
    fill_for_close,
    label,
    milestones_required_to_close,
    ordering_violations,
)

JUSTIFICATION_MIN_LENGTH = 10


class Move(StrEnum):
    """The kind of a (from, to) status pair; it decides which rules apply."""

    FORWARD = "forward"
    """Further along the lifecycle, skipping steps allowed (Open → Mitigated)."""
    STEP_BACK = "step_back"
    """Mitigating back to Investigating: the incident is still being handled, nothing reopens."""
    REOPEN_FROM_MITIGATED = "reopen_from_mitigated"
    """Mitigated or Post-mortem back to Investigating/Mitigating: needs a justification."""
    TO_POSTMORTEM = "to_postmortem"
    """Mitigated → Post-mortem: only when a post-mortem is required."""
    CLOSE = "close"
    """To Closed: the close gate, or an early closure with a reason."""
    REOPEN_AFTER_CLOSE = "reopen_after_close"
    """Closed → Investigating: commander or incident managers, with a justification."""
    NOT_ALLOWED = "not_allowed"
    NO_OP = "no_op"
    """The incident already has that status."""


_O, _I, _MG, _MD, _PM, _C = (
    Status.OPEN,
    Status.INVESTIGATING,
    Status.MITIGATING,
    Status.MITIGATED,
    Status.POSTMORTEM,
    Status.CLOSED,
)
_FWD, _BACK, _REOPEN, _TO_PM, _CLOSE, _RECLOSE, _NO, _SAME = (
    Move.FORWARD,
    Move.STEP_BACK,
    Move.REOPEN_FROM_MITIGATED,
    Move.TO_POSTMORTEM,
    Move.CLOSE,
    Move.REOPEN_AFTER_CLOSE,
    Move.NOT_ALLOWED,
    Move.NO_OP,
)
_COLUMNS = (_O, _I, _MG, _MD, _PM, _C)
# fmt: off
_ROWS: dict[Status, tuple[Move, ...]] = {
    #      to:  Open   Investigating Mitigating Mitigated  Post-mortem Closed
    _O:  (_SAME, _FWD,    _FWD,      _FWD,      _NO,       _CLOSE),
    _I:  (_NO,   _SAME,   _FWD,      _FWD,      _NO,       _CLOSE),
    _MG: (_NO,   _BACK,   _SAME,     _FWD,      _NO,       _CLOSE),
    _MD: (_NO,   _REOPEN, _REOPEN,   _SAME,     _TO_PM,    _CLOSE),
    _PM: (_NO,   _REOPEN, _REOPEN,   _NO,       _SAME,     _CLOSE),
    _C:  (_NO,   _RECLOSE, _NO,      _NO,       _NO,       _SAME),
}
# fmt: on

TRANSITIONS: Mapping[tuple[Status, Status], Move] = {
    (source, target): move
    for source, row in _ROWS.items()
    for target, move in zip(_COLUMNS, row, strict=True)
}
"""THE transition table: every (from, to) pair of statuses → its kind of move."""


def move_of(source: Status, target: Status) -> Move:
    return TRANSITIONS[(source, target)]


class Fix(StrEnum):
    """Machine-readable fixes for a refusal; ``set_milestone:<name>`` is built by ``set_milestone``."""

    MITIGATE_FIRST = "mitigate_first"
    MOVE_TO_POSTMORTEM = "move_to_postmortem"
    MARK_POSTMORTEM_READY = "mark_postmortem_ready"
    ADD_JUSTIFICATION = "add_justification"
    CHOOSE_KEPT_INCIDENT = "choose_kept_incident"
    SET_MILESTONE = "set_milestone"

    @staticmethod
    def set_milestone(milestone: Milestone) -> str:
        """``set_milestone:started_at``."""
        return f"{Fix.SET_MILESTONE.value}:{milestone.value}"


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason a transition is refused; ``fix`` names the action that removes it (or None)."""

    text: str
    fix: str | None = None


class TransitionRefused(UserFacingError):
    """The transition is not allowed now; ``reasons`` lists every reason, each with its fix."""

    def __init__(self, reasons: list[Reason]) -> None:
        if not reasons:
            raise ValueError("a refusal has at least one reason")
        super().__init__(" ".join(reason.text for reason in reasons))
        self.reasons = reasons

    @property
    def fixes(self) -> list[str]:
        return [reason.fix for reason in self.reasons if reason.fix is not None]


@dataclass(frozen=True, slots=True, kw_only=True)
class LifecycleRules:
    """The catalog facts the lifecycle needs for one incident.

    ``postmortem_required``: the priority needs a post-mortem and the primary environment is a
    production one (``postmortem_required_for``). ``extra_required_milestones``: milestones the
    configuration requires before closing a P1-P3, on top of those every metric needs."""

    postmortem_required: bool = False
    extra_required_milestones: tuple[Milestone, ...] = ()

    @classmethod
    def for_(
        cls,
        *,
        priority_needs_postmortem: bool,
        production: bool,
        extra_required_milestones: tuple[Milestone, ...] = (),
    ) -> LifecycleRules:
        return cls(
            postmortem_required=postmortem_required_for(priority_needs_postmortem, production),
            extra_required_milestones=extra_required_milestones,
        )


def postmortem_required_for(priority_needs_postmortem: bool, production: bool) -> bool:
    """A post-mortem is required for priorities that need one, in a production environment."""
    return priority_needs_postmortem and production


@dataclass(frozen=True, slots=True)
class TransitionResult:
    incident: Incident
    events: list[TimelineEvent] = field(default_factory=list)
    move: Move = Move.FORWARD


# ---------------------------------------------------------------------------------------------------
# The close gate
# ---------------------------------------------------------------------------------------------------


def close_blockers(
    incident: Incident,
    rules: LifecycleRules,
    *,
    postmortem_ready: bool,
    postmortem_hint: str | None = None,
) -> list[Reason]:
    """Everything standing between the incident and a normal (not early) closure; empty: it may
    close. Incidents needing a post-mortem: status Post-mortem, document ready, required
    milestones. Other P1-P3: Mitigated or later, required milestones. P4/P5: Mitigated or later.
    ``postmortem_hint`` says how the document becomes ready where that is not a click in Slack
    (a label to add on the Confluence page…)."""
    status = incident.status
    reasons: list[Reason] = []
    if not status.is_mitigated_or_later:
        reasons.append(
            Reason(
                f"{incident.reference} is {status.label}: mitigate it first.", Fix.MITIGATE_FIRST
            )
        )
    if rules.postmortem_required:
        if status is not Status.POSTMORTEM:
            reasons.append(
                Reason(
                    "This incident needs a post-mortem: move it to Post-mortem.",
                    Fix.MOVE_TO_POSTMORTEM,
                )
            )
        if not postmortem_ready:
            reasons.append(
                Reason(
                    postmortem_hint or "Mark the post-mortem document as ready.",
                    Fix.MARK_POSTMORTEM_READY,
                )
            )
    required = milestones_required_to_close(incident.priority, rules.extra_required_milestones)
    for milestone in incident.milestones.missing(required):
        reasons.append(Reason(f"Set the {label(milestone)} time.", Fix.set_milestone(milestone)))
    for earlier, later in ordering_violations(incident.milestones):
        reasons.append(
            Reason(
                f"{describe_violation(incident.milestones, earlier, later)} Correct one of them.",
                Fix.set_milestone(later),
            )
        )
    return reasons


def may_close(incident: Incident, rules: LifecycleRules, *, postmortem_ready: bool) -> bool:
    return not close_blockers(incident, rules, postmortem_ready=postmortem_ready)


def allowed_targets(incident: Incident, rules: LifecycleRules) -> list[Status]:
    """The statuses the table offers from the incident's status (for menus); Post-mortem only when
    required. Closed is offered even when its gate would refuse: the refusal lists the fixes."""
    offered = []
    for target in Status:
        move = move_of(incident.status, target)
        if move in (Move.NOT_ALLOWED, Move.NO_OP):
            continue
        if move is Move.TO_POSTMORTEM and not rules.postmortem_required:
            continue
        offered.append(target)
    return offered


# ---------------------------------------------------------------------------------------------------
# transition()
# ---------------------------------------------------------------------------------------------------


def _justification(text: str | None, what: str) -> str:
    cleaned = (text or "").strip()
    if len(cleaned) < JUSTIFICATION_MIN_LENGTH:
        raise TransitionRefused(
            [
                Reason(
                    f"Say why you {what} (at least {JUSTIFICATION_MIN_LENGTH} characters).",
                    Fix.ADD_JUSTIFICATION,
                )
            ]
        )
    return cleaned


def _not_allowed(source: Status, target: Status) -> TransitionRefused:
    if source is Status.CLOSED:
        text = "A closed incident can only be reopened, to Investigating."
    elif target is Status.OPEN:
        text = "An incident cannot go back to Open: choose Investigating."
    elif target is Status.POSTMORTEM:
        text = f"Post-mortem is only reachable from Mitigated (this incident is {source.label})."
    else:
        text = (
            f"{source.label} cannot go back to {target.label}: "
            "reopen to Investigating or Mitigating, or close it."
        )
    return TransitionRefused([Reason(text)])


def _normalize_reference(reference: str | None) -> int | None:
    raw = (reference or "").strip().removeprefix("#")
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def _with_milestones(
    milestones: Milestones, changes: Mapping[Milestone, datetime | None]
) -> tuple[Milestones, dict[str, JsonValue]]:
    """Apply milestone changes; returns them as ``{name: {"from": iso, "to": iso}}`` for the event."""
    record: dict[str, JsonValue] = {}
    for milestone, value in changes.items():
        previous = milestones.get(milestone)
        if previous != value:
            record[milestone.value] = {"from": iso(previous), "to": iso(value)}
            milestones = milestones.with_(milestone, value)
    return milestones, record


def _auto(milestones: Milestones, milestone: Milestone, now: datetime) -> dict[Milestone, datetime]:
    """``{milestone: now}`` (never before a milestone that must precede) when it is unset."""
    if milestones.get(milestone) is not None:
        return {}
    return {milestone: earliest_allowed(milestones, milestone, now)}


def transition(
    incident: Incident,
    to: Status,
    *,
    actor: Actor,
    now: datetime,
    rules: LifecycleRules,
    justification: str | None = None,
    postmortem_ready: bool = False,
    postmortem_hint: str | None = None,
    is_commander: bool = False,
    is_incident_manager: bool = False,
    closure_reason: ClosureReason | None = None,
    closure_reference: str | None = None,
) -> TransitionResult:
    """Move ``incident`` to ``to`` following ``TRANSITIONS``; raise ``TransitionRefused`` otherwise.

    Milestones follow automatically: ``acknowledged_at`` on the first move past Open, ``mitigated_at``
    on reaching Mitigated, ``resolved_at`` on moving past Mitigated, ``closed_at`` on Closed (each
    only when unset); a reopen clears ``mitigated_at``/``resolved_at``/``closed_at`` (their old
    values stay in the event's data). ``closure_reason`` makes it an early closure (any status,
    bypassing the close gate; ``duplicate`` needs ``closure_reference``, the kept incident).
    ``actor`` is recorded in the events' data; access is checked by the caller (``bot.domain.policy``).
    """
    source = incident.status
    move = move_of(source, to)
    if closure_reason is not None and to is not Status.CLOSED:
        raise TransitionRefused([Reason("A closure reason only applies when closing.")])
    if move is Move.NO_OP:
        raise TransitionRefused([Reason(f"{incident.reference} is already {to.label}.")])
    if move is Move.NOT_ALLOWED:
        raise _not_allowed(source, to)

    data: dict[str, JsonValue] = {"from": source.value, "to": to.value, "actor": actor.id}
    milestones = incident.milestones
    changes: dict[Milestone, datetime | None] = {}
    kind = TimelineKind.STATUS_CHANGE
    text = f"Status: {source.label} → {to.label}"
    closure: tuple[ClosureReason | None, str | None] = (
        incident.closure_reason,
        incident.closure_reference,
    )

    if move is Move.FORWARD:
        changes |= _auto(milestones, Milestone.ACKNOWLEDGED, now)
        if to is Status.MITIGATED:
            changes |= _auto(milestones, Milestone.MITIGATED, now)
    elif move is Move.STEP_BACK:
        pass
    elif move is Move.REOPEN_FROM_MITIGATED:
        cleaned = _justification(justification, f"reopen {incident.reference}")
        kind, text = TimelineKind.REOPENED, f"Reopened: {source.label} → {to.label} ({cleaned})"
        data["justification"] = cleaned
        changes |= {Milestone.MITIGATED: None, Milestone.RESOLVED: None}
    elif move is Move.TO_POSTMORTEM:
        if not rules.postmortem_required:
            raise TransitionRefused(
                [Reason(f"{incident.reference} does not need a post-mortem: close it instead.")]
            )
        changes |= _auto(milestones, Milestone.RESOLVED, now)
    elif move is Move.REOPEN_AFTER_CLOSE:
        reasons = []
        if not (is_commander or is_incident_manager):
            reasons.append(
                Reason("Only the incident commander or an incident manager can reopen it.")
            )
        cleaned = (justification or "").strip()
        if len(cleaned) < JUSTIFICATION_MIN_LENGTH:
            reasons.append(
                Reason(
                    f"Say why you reopen {incident.reference} "
                    f"(at least {JUSTIFICATION_MIN_LENGTH} characters).",
                    Fix.ADD_JUSTIFICATION,
                )
            )
        if reasons:
            raise TransitionRefused(reasons)
        kind, text = TimelineKind.REOPENED, f"Reopened: Closed → {to.label} ({cleaned})"
        data["justification"] = cleaned
        data["closure_reason"] = closure[0].value if closure[0] else None
        data["closure_reference"] = closure[1]
        changes |= {Milestone.MITIGATED: None, Milestone.RESOLVED: None, Milestone.CLOSED: None}
        closure = (None, None)
    else:  # Move.CLOSE
        assert move is Move.CLOSE
        kind = TimelineKind.CLOSED
        if closure_reason is None:
            blockers = close_blockers(
                incident, rules, postmortem_ready=postmortem_ready, postmortem_hint=postmortem_hint
            )
            if blockers:
                raise TransitionRefused(blockers)
            text = f"Closed (was {source.label})"
        else:
            reference = _early_closure_reference(incident, closure_reason, closure_reference)
            closure = (closure_reason, reference)
            text = f"Closed early: {closure_reason.value.replace('_', ' ')}"
            if reference:
                text += f" ({reference})"
            data["closure_reason"] = closure_reason.value
            data["closure_reference"] = reference
        if justification and justification.strip():
            data["justification"] = justification.strip()
        completed, filled = fill_for_close(
            milestones, closed_at=now, declared_fallback=incident.created_at
        )
        changes |= {m: completed.get(m) for m in (*filled, Milestone.CLOSED)}
        data["filled_milestones"] = [m.value for m in filled]

    milestones, record = _with_milestones(milestones, changes)
    data["milestones"] = record
    changed = dataclasses.replace(
        incident,
        status=to,
        milestones=milestones,
        closure_reason=closure[0],
        closure_reference=closure[1],
        updated_at=now,
    )
    return TransitionResult(changed, [TimelineEvent(kind, text, data)], move)


def _early_closure_reference(
    incident: Incident, reason: ClosureReason, reference: str | None
) -> str | None:
    if reason is not ClosureReason.DUPLICATE:
        cleaned = (reference or "").strip()
        return cleaned or None
    kept = _normalize_reference(reference)
    if kept is None:
        raise TransitionRefused(
            [
                Reason(
                    "Closing as a duplicate needs the number of the incident you keep (e.g. #123).",
                    Fix.CHOOSE_KEPT_INCIDENT,
                )
            ]
        )
    if kept == incident.id:
        raise TransitionRefused(
            [
                Reason(
                    f"{incident.reference} cannot be a duplicate of itself: "
                    "give the incident you keep.",
                    Fix.CHOOSE_KEPT_INCIDENT,
                )
            ]
        )
    return f"#{kept}"
