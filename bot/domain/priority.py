"""Priority from impacts, response type by priority, and what a priority change implies
(PRODUCT.md §1).

The catalog facts come in as plain values: the impact table ``(impact type, level) -> priority or
None`` (the caller builds it from the configuration) and, optionally, per-priority response types.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.domain.errors import UserFacingError
from bot.domain.events import TimelineEvent
from bot.domain.incident import Incident, Priority, ResponseType, TimelineKind

OVERRIDE_REASON_MIN_LENGTH = 10

ImpactTable = Mapping[tuple[str, str], Priority | None]
"""``(impact type key, level key) -> priority`` (``None``: that level means no impact)."""


class NoImpactChosen(UserFacingError):
    """Every impact is at "none": no incident can be declared."""

    field = "impacts"


class UnknownImpact(UserFacingError):
    """An impact type or level the configuration does not know (e.g. a modal opened before a
    configuration change)."""

    field = "impacts"


class OverrideRefused(UserFacingError):
    """A priority override without a good enough reason."""

    field = "priority_reason"


class PriorityUnchanged(UserFacingError):
    """The new priority is the current one."""


@dataclass(frozen=True, slots=True)
class PriorityDecision:
    """The priority to use and where it came from.

    ``derived`` is the priority the impacts imply, ``derived_from`` the ``(type, level)`` pairs that
    imply it (the worst ones); ``overridden`` is true when the user chose another priority, with
    ``reason``."""

    priority: Priority
    derived: Priority
    derived_from: tuple[tuple[str, str], ...]
    overridden: bool = False
    reason: str | None = None


def priority_from_impacts(
    impacts: Mapping[str, str],
    table: ImpactTable,
    *,
    override: Priority | None = None,
    reason: str | None = None,
    impact_names: Sequence[str] = (),
) -> PriorityDecision:
    """The worst (lowest-numbered) priority implied by ``impacts`` (type -> level).

    Raises ``NoImpactChosen`` when no impact implies a priority (``impact_names``, e.g. "Business",
    name the choices in the message; the impact type keys otherwise), ``UnknownImpact`` for a pair
    missing from ``table``, ``OverrideRefused`` when ``override`` differs from the derived priority
    and ``reason`` is shorter than 10 characters. An override equal to the derived priority is not
    an override.
    """
    implied: list[tuple[Priority, tuple[str, str]]] = []
    for impact_type, level in impacts.items():
        if (impact_type, level) not in table:
            raise UnknownImpact(
                f"Unknown impact {level!r} for {impact_type!r}: reopen the form and choose again."
            )
        priority = table[(impact_type, level)]
        if priority is not None:
            implied.append((priority, (impact_type, level)))
    if not implied:
        names = list(impact_names) or sorted({impact_type for impact_type, _ in table})
        raise NoImpactChosen(f"Choose the impact on at least one of {_or_list(names)}.")
    derived = min(priority for priority, _ in implied)
    derived_from = tuple(pair for priority, pair in implied if priority is derived)
    if override is None or override is derived:
        return PriorityDecision(derived, derived, derived_from)
    cleaned = (reason or "").strip()
    if len(cleaned) < OVERRIDE_REASON_MIN_LENGTH:
        raise OverrideRefused(
            f"Say why {override.label} instead of {derived.label} "
            f"(at least {OVERRIDE_REASON_MIN_LENGTH} characters)."
        )
    return PriorityDecision(override, derived, derived_from, overridden=True, reason=cleaned)


def _or_list(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} or {names[-1]}"


def response_type_for(
    priority: Priority, configured: Mapping[Priority, ResponseType] | None = None
) -> ResponseType:
    """``configured[priority]`` when given; P1-P3 critical (a channel), P4/P5 normal otherwise."""
    if configured and priority in configured:
        return configured[priority]
    return priority.default_response_type


class ResponseChange(StrEnum):
    """What a priority change means for the incident's response."""

    NONE = "none"
    CREATE_CHANNEL = "create_channel"
    """A normal incident raised to a critical priority: its channel is created now."""
    OFFER_CONVERSION = "offer_conversion"
    """A critical incident lowered to a normal priority: offer to convert it (archive the channel,
    keep the ticket). Nothing changes until the user accepts (``convert_to_normal``)."""


@dataclass(frozen=True, slots=True)
class PriorityChange:
    incident: Incident
    response_change: ResponseChange
    event: TimelineEvent


def change_priority(
    incident: Incident,
    new: Priority,
    *,
    now: datetime,
    reason: str | None = None,
    response_types: Mapping[Priority, ResponseType] | None = None,
) -> PriorityChange:
    """The incident at priority ``new``. Raising a normal incident to a critical priority makes it
    critical (the service creates its channel: ``CREATE_CHANNEL``); lowering a critical incident
    keeps it critical and returns ``OFFER_CONVERSION``. Same priority: ``PriorityUnchanged``."""
    if new is incident.priority:
        raise PriorityUnchanged(f"{incident.reference} is already {new.label}.")
    target = response_type_for(new, response_types)
    response_type = incident.response_type
    if target is ResponseType.CRITICAL and incident.response_type is ResponseType.NORMAL:
        effect = ResponseChange.CREATE_CHANNEL
        response_type = ResponseType.CRITICAL
    elif target is ResponseType.NORMAL and incident.response_type is ResponseType.CRITICAL:
        effect = ResponseChange.OFFER_CONVERSION
    else:
        effect = ResponseChange.NONE
    cleaned = reason.strip() if reason else None
    text = f"Priority: {incident.priority.label} → {new.label}"
    if cleaned:
        text += f" ({cleaned})"
    event = TimelineEvent(
        TimelineKind.PRIORITY_CHANGE,
        text,
        {
            "from": incident.priority.label,
            "to": new.label,
            "reason": cleaned,
            "response_change": effect.value,
        },
    )
    changed = dataclasses.replace(
        incident, priority=new, response_type=response_type, updated_at=now
    )
    return PriorityChange(changed, effect, event)


def convert_to_normal(incident: Incident, *, now: datetime) -> tuple[Incident, TimelineEvent]:
    """Accept the conversion offer: the incident becomes normal (the service archives the channel;
    the ticket stays open). Refused for an incident already normal."""
    if incident.response_type is ResponseType.NORMAL:
        raise UserFacingError(f"{incident.reference} is already tracked without a channel.")
    event = TimelineEvent(
        TimelineKind.CONVERTED,
        "Converted to a normal incident: the channel is archived, the ticket stays open",
        {"from": ResponseType.CRITICAL.value, "to": ResponseType.NORMAL.value},
    )
    changed = dataclasses.replace(incident, response_type=ResponseType.NORMAL, updated_at=now)
    return changed, event
