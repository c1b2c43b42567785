"""Validation of the declare form (PRODUCT.md §1): errors keyed by field, so the modal can answer
``response_action: errors`` on the right block (the Block Kit layer maps field → block id)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from bot.domain.errors import UserFacingError
from bot.domain.incident import (
    SUMMARY_MAX_LENGTH,
    SUMMARY_MIN_LENGTH,
    TITLE_MAX_LENGTH,
    TITLE_MIN_LENGTH,
    JsonValue,
    Priority,
)

FIELD_TITLE = "title"
FIELD_SUMMARY = "summary"
FIELD_ENVIRONMENTS = "environments"
FIELD_IMPACTS = "impacts"
FIELD_PRIORITY_REASON = "priority_reason"
FIELD_CATEGORY = "category"


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceMessage:
    """The Slack message an incident is declared from, or that is pinned to a timeline."""

    channel_id: str
    ts: str
    text: str = ""
    author_id: str | None = None
    permalink: str | None = None
    thread_ts: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Declaration:
    """What the declare form says (parsed, not yet validated): the service validates it, derives
    the priority from ``impacts`` (type key -> level key) and stores the incident."""

    title: str
    summary: str
    impacts: Mapping[str, str]
    category: str
    environments: tuple[str, ...]
    priority_override: Priority | None = None
    override_reason: str | None = None
    custom_fields: Mapping[str, JsonValue] = field(default_factory=dict)
    private: bool = False
    source: SourceMessage | None = None


class DeclarationInvalid(UserFacingError):
    """The declare form has errors; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


def _length_error(what: str, text: str, low: int, high: int) -> str | None:
    length = len(text.strip())
    if length < low:
        return f"The {what} needs at least {low} characters ({length} given)."
    if length > high:
        return f"The {what} can have at most {high} characters ({length} given)."
    return None


def validate_declaration(
    *,
    title: str,
    summary: str,
    environments: Sequence[str],
    known_environments: Collection[str] | None = None,
) -> dict[str, str]:
    """Field → message for every problem (empty: valid). Lengths count the text without leading and
    trailing whitespace; ``known_environments`` (when given) refuses unknown environment keys."""
    errors: dict[str, str] = {}
    if problem := _length_error("title", title, TITLE_MIN_LENGTH, TITLE_MAX_LENGTH):
        errors[FIELD_TITLE] = problem
    if problem := _length_error("summary", summary, SUMMARY_MIN_LENGTH, SUMMARY_MAX_LENGTH):
        errors[FIELD_SUMMARY] = problem
    if not environments:
        errors[FIELD_ENVIRONMENTS] = "Choose at least one environment."
    elif known_environments is not None:
        unknown = [env for env in environments if env not in known_environments]
        if unknown:
            errors[FIELD_ENVIRONMENTS] = f"Unknown environment: {', '.join(unknown)}."
    if len(set(environments)) != len(environments) and FIELD_ENVIRONMENTS not in errors:
        errors[FIELD_ENVIRONMENTS] = "Each environment can be chosen once."
    return errors


def require_valid_declaration(
    *,
    title: str,
    summary: str,
    environments: Sequence[str],
    known_environments: Collection[str] | None = None,
) -> None:
    """``validate_declaration`` or ``DeclarationInvalid`` carrying the field-keyed errors."""
    errors = validate_declaration(
        title=title,
        summary=summary,
        environments=environments,
        known_environments=known_environments,
    )
    if errors:
        raise DeclarationInvalid(errors)


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentChanges:
    """New values for an incident (the update modal gives every one; the service diffs them):
    ``None`` leaves a value as it is. ``custom_fields`` sets the fields it names (a ``None``
    value clears one: the modal showed it emptied); the others keep their value."""

    title: str | None = None
    summary: str | None = None
    category: str | None = None
    environments: tuple[str, ...] | None = None
    custom_fields: Mapping[str, JsonValue] | None = None
    priority: Priority | None = None
    priority_reason: str | None = None
