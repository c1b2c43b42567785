"""The declare modal (PRODUCT.md §1 Priority, §2 ``/incident open``) and its parsers.

``declare_modal`` builds the view; ``prefill_from_view`` reads a view back (its ``state.values`` and
``private_metadata``) so that every ``block_actions`` inside the modal can re-render it with the new
live priority through ``views.update``; ``parse_declare`` turns a submitted view into a
``Declaration`` or raises ``DeclareFormInvalid`` whose ``errors`` map each input block id to its
message (the handler answers ``{"response_action": "errors", "errors": exc.errors}``).

Block and action ids never depend on the state, so Slack keeps what the user typed across
re-renders (SLACK_NOTES §5.2). Every builder here is pure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.blocks.ids import ActionId, BlockId, CallbackId
from bot.blocks.text import escape, truncate
from bot.config import Catalog, CustomField
from bot.domain.declaration import (
    FIELD_ENVIRONMENTS,
    FIELD_SUMMARY,
    FIELD_TITLE,
    Declaration,
    SourceMessage,
    validate_declaration,
)
from bot.domain.errors import UserFacingError
from bot.domain.incident import (
    SUMMARY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Incident,
    JsonValue,
    Priority,
)
from bot.domain.priority import (
    OVERRIDE_REASON_MIN_LENGTH,
    ImpactTable,
    NoImpactChosen,
    OverrideRefused,
    PriorityDecision,
    UnknownImpact,
    priority_from_impacts,
)

View = dict[str, Any]
Block = dict[str, Any]

MAX_BLOCKS = 100
MAX_OPTIONS = 100
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
HINT_MAX = 2000
PRIVATE_METADATA_MAX = 3000
GUARD_MAX_LISTED = 5
"""At most this many recent incidents are listed in the duplicate guard (each is one block)."""
OVERRIDE_REASON_MAX_LENGTH = 500
TEXT_FIELD_MAX_LENGTH = 2000

PRIVATE_VALUE = "private"
PRIVATE_TEXT = "Private incident: private channel, never announced publicly"
NO_IMPACT_TEXT = "Choose at least one impact: with no impact there is nothing to declare."
NOTHING_CHOSEN_TEXT = (
    "_Choose the impacts above: the priority is the worst of them, shown here with its response._"
)
GUARD_ADVICE = "If it is the same problem, join it instead of declaring a new one."

_FIELD_BLOCKS: dict[str, str] = {
    FIELD_TITLE: BlockId.DECLARE_TITLE.value,
    FIELD_SUMMARY: BlockId.DECLARE_SUMMARY.value,
    FIELD_ENVIRONMENTS: BlockId.DECLARE_ENVIRONMENTS.value,
}
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,}$")
_NUMBER = re.compile(r"^-?[0-9]+$")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeclarePrefill:
    """What the modal shows when it opens (or is re-rendered): every field may be empty."""

    title: str = ""
    summary: str = ""
    impacts: Mapping[str, str] = field(default_factory=dict)
    """Impact type key -> level key."""
    priority_override: Priority | None = None
    override_reason: str = ""
    category: str | None = None
    environments: tuple[str, ...] = ()
    private: bool = False
    custom_fields: Mapping[str, JsonValue] = field(default_factory=dict)
    source: SourceMessage | None = None
    origin_channel_id: str | None = None

    @classmethod
    def from_message(
        cls, source: SourceMessage, *, origin_channel_id: str | None = None
    ) -> DeclarePrefill:
        """The prefill of the "Declare incident from message" shortcut: the message's first line
        as the title, its text as the summary (Slack's ``&amp;``/``&lt;``/``&gt;`` undone: the
        inputs show plain text), both cut to their maximum length."""
        text = _unescape(source.text).strip()
        first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
        return cls(
            title=truncate(first_line, TITLE_MAX_LENGTH),
            summary=truncate(text, SUMMARY_MAX_LENGTH),
            source=source,
            origin_channel_id=origin_channel_id or source.channel_id,
        )


class DeclareFormInvalid(UserFacingError):
    """The submitted declare form has problems; ``errors`` maps input block ids to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


# ---------------------------------------------------------------------------------------------------
# Catalog facts
# ---------------------------------------------------------------------------------------------------


def impact_table(catalog: Catalog) -> ImpactTable:
    """``(impact type key, level key) -> priority`` (``None``: no impact), per-type overrides
    included (the example catalog's ``employees: {high: P2}``)."""
    return catalog.impacts.table()


def priority_label(catalog: Catalog, priority: Priority, *, emoji: bool = False) -> str:
    """``P2 · High`` (``:large_orange_circle: P2 · High`` with ``emoji``), names from the catalog."""
    try:
        configured = catalog.priority(priority.label)
    except KeyError:
        return priority.label
    prefix = f"{configured.emoji} " if emoji and configured.emoji else ""
    return f"{prefix}{priority.label} · {configured.name}"


def preview_decision(catalog: Catalog, prefill: DeclarePrefill) -> PriorityDecision | None:
    """The priority the chosen impacts imply (the override applied when it has a reason or
    none is needed), or ``None`` while no impact implies one. Stale choices are ignored."""
    table = impact_table(catalog)
    impacts = {t: level for t, level in prefill.impacts.items() if (t, level) in table}
    try:
        derived = priority_from_impacts(impacts, table)
    except (NoImpactChosen, UnknownImpact):
        return None
    override = prefill.priority_override
    if override is None or override is derived.priority:
        return derived
    reason = prefill.override_reason.strip() or None
    return PriorityDecision(override, derived.priority, derived.derived_from, True, reason)


def fields_for(catalog: Catalog, priority: Priority | None) -> list[CustomField]:
    """The custom fields the modal shows at ``priority``: the unrestricted ones always, those
    restricted to some priorities only once the priority is one of them."""
    return [
        custom
        for custom in catalog.custom_fields
        if not custom.priorities or (priority is not None and priority.label in custom.priorities)
    ]


# ---------------------------------------------------------------------------------------------------
# The modal
# ---------------------------------------------------------------------------------------------------


def declare_modal(
    catalog: Catalog,
    prefill: DeclarePrefill | None = None,
    *,
    recent: Sequence[Incident] = (),
) -> View:
    """The declare modal.

    ``recent``: the P1-P3 incidents declared in the last hour (the caller picks them; pass them
    again when re-rendering, or the duplicate guard disappears)."""
    prefill = prefill or DeclarePrefill()
    decision = preview_decision(catalog, prefill)
    blocks: list[Block] = []
    if prefill.source is not None:
        blocks.append(_source_context(prefill.source))
    if recent:
        blocks += _guard_blocks(catalog, recent)
        blocks.append({"type": "divider"})
    blocks += [_impact_input(catalog, type_key, prefill) for type_key in _impact_keys(catalog)]
    blocks.append(_preview_block(catalog, prefill, decision))
    blocks += _override_inputs(catalog, prefill)
    blocks.append({"type": "divider"})
    blocks += [
        _title_input(prefill),
        _summary_input(prefill),
        _category_input(catalog, prefill),
        _environments_input(catalog, prefill),
    ]
    tail = [_private_input(prefill)]
    shown = fields_for(catalog, decision.priority if decision else None)
    room = MAX_BLOCKS - len(blocks) - len(tail)
    blocks += [_custom_field_input(custom, prefill) for custom in shown[: max(0, room)]]
    blocks += tail
    return {
        "type": "modal",
        "callback_id": CallbackId.DECLARE_MODAL.value,
        "title": _plain("Declare an incident"),
        "submit": _plain("Declare"),
        "close": _plain("Cancel"),
        "private_metadata": _metadata(prefill),
        "blocks": blocks,
    }


def _guard_blocks(catalog: Catalog, recent: Sequence[Incident]) -> list[Block]:
    count = len(recent)
    headline = (
        "A P1-P3 incident was declared in the last hour."
        if count == 1
        else f"{count} P1-P3 incidents were declared in the last hour."
    )
    blocks: list[Block] = [
        {
            "type": "section",
            "block_id": BlockId.DECLARE_GUARD.value,
            "text": _mrkdwn(f":warning: *{headline}*\n{GUARD_ADVICE}"),
        }
    ]
    for incident in recent[:GUARD_MAX_LISTED]:
        facts = [
            f"*{incident.reference}*",
            priority_label(catalog, incident.priority, emoji=True),
            escape(truncate(incident.title, TITLE_MAX_LENGTH)),
        ]
        if incident.channel_id and _SLACK_ID.match(incident.channel_id):
            facts.append(f"<#{incident.channel_id}>")
        blocks.append(
            {
                "type": "section",
                "text": _mrkdwn(" · ".join(facts)),
                "accessory": {
                    "type": "button",
                    "action_id": ActionId.DECLARE_JOIN_EXISTING.value,
                    "text": _plain("Join"),
                    "value": str(incident.id),
                },
            }
        )
    if count > GUARD_MAX_LISTED:
        blocks.append(_context(f"And {count - GUARD_MAX_LISTED} more."))
    return blocks


def _impact_keys(catalog: Catalog) -> list[str]:
    return [impact_type.key for impact_type in catalog.impacts.types]


def _impact_input(catalog: Catalog, type_key: str, prefill: DeclarePrefill) -> Block:
    impact_type = next(t for t in catalog.impacts.types if t.key == type_key)
    options = [
        _option(level.name, level.key, level.description)
        for level in catalog.impacts.levels[:MAX_OPTIONS]
    ]
    element: Block = {
        "type": "static_select",
        "action_id": ActionId.DECLARE_IMPACT.value,
        "placeholder": _plain("Choose a level"),
        "options": options,
    }
    _set_initial_option(element, options, prefill.impacts.get(type_key))
    block: Block = {
        "type": "input",
        "block_id": f"{BlockId.DECLARE_IMPACT_PREFIX}{type_key}",
        "dispatch_action": True,
        "optional": True,
        "label": _plain(impact_type.name),
        "element": element,
    }
    if impact_type.description:
        block["hint"] = _plain(truncate(impact_type.description, HINT_MAX))
    return block


def _preview_block(
    catalog: Catalog, prefill: DeclarePrefill, decision: PriorityDecision | None
) -> Block:
    if decision is not None:
        text = _preview_text(catalog, decision)
    elif _all_chosen_are_none(catalog, prefill):
        text = f":no_entry: {NO_IMPACT_TEXT}"
    else:
        text = NOTHING_CHOSEN_TEXT
    return {"type": "section", "block_id": BlockId.DECLARE_PRIORITY.value, "text": _mrkdwn(text)}


def _all_chosen_are_none(catalog: Catalog, prefill: DeclarePrefill) -> bool:
    table = impact_table(catalog)
    known = [(t, level) for t, level in prefill.impacts.items() if (t, level) in table]
    return bool(known) and all(table[pair] is None for pair in known)


def _preview_text(catalog: Catalog, decision: PriorityDecision) -> str:
    configured = catalog.priority(decision.priority.label)
    label = f"*{escape(priority_label(catalog, decision.priority))}*"
    if configured.emoji:
        label = f"{configured.emoji} {label}"
    if decision.overridden:
        label += (
            f" (overridden: the impacts say {escape(priority_label(catalog, decision.derived))})"
        )
    response = (
        "a dedicated channel"
        if configured.response_type == "critical"
        else "a Jira ticket, no channel"
    )
    facts = [escape(configured.sla.strip().rstrip(".")), response]
    line = f"{label} — {' · '.join(fact for fact in facts if fact)}"
    names = {t.key: t.name for t in catalog.impacts.types}
    levels = {lv.key: lv.name for lv in catalog.impacts.levels}
    worst = ", ".join(
        f"{names.get(t, t)}: {levels.get(level, level)}" for t, level in decision.derived_from
    )
    if worst:
        line += f"\n_Worst impact: {escape(worst)}._"
    return truncate(line, 3000)


def _override_inputs(catalog: Catalog, prefill: DeclarePrefill) -> list[Block]:
    options = [_option(priority_label(catalog, p), p.label) for p in Priority]
    element: Block = {
        "type": "static_select",
        "action_id": ActionId.DECLARE_OVERRIDE.value,
        "placeholder": _plain("Keep the priority the impacts give"),
        "options": options,
    }
    override = prefill.priority_override
    _set_initial_option(element, options, override.label if override else None)
    reason: Block = {
        "type": "plain_text_input",
        "action_id": BlockId.DECLARE_OVERRIDE_REASON.value,
        "max_length": OVERRIDE_REASON_MAX_LENGTH,
        "placeholder": _plain("Why the impacts do not tell the whole story"),
    }
    if prefill.override_reason:
        reason["initial_value"] = truncate(prefill.override_reason, OVERRIDE_REASON_MAX_LENGTH)
    return [
        {
            "type": "input",
            "block_id": BlockId.DECLARE_OVERRIDE.value,
            "optional": True,
            "label": _plain("Override the priority"),
            "hint": _plain("Only when the impacts do not tell the whole story: say why below."),
            "element": element,
        },
        {
            "type": "input",
            "block_id": BlockId.DECLARE_OVERRIDE_REASON.value,
            "optional": True,
            "label": _plain("Why this priority?"),
            "hint": _plain(
                f"Required with an override (at least {OVERRIDE_REASON_MIN_LENGTH} characters)."
            ),
            "element": reason,
        },
    ]


def _title_input(prefill: DeclarePrefill) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": BlockId.DECLARE_TITLE.value,
        "max_length": TITLE_MAX_LENGTH,
        "placeholder": _plain("What is broken, in a few words"),
    }
    if prefill.title:
        element["initial_value"] = truncate(prefill.title, TITLE_MAX_LENGTH)
    return {
        "type": "input",
        "block_id": BlockId.DECLARE_TITLE.value,
        "label": _plain("Title"),
        "element": element,
    }


def _summary_input(prefill: DeclarePrefill) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": BlockId.DECLARE_SUMMARY.value,
        "multiline": True,
        "max_length": SUMMARY_MAX_LENGTH,
        "placeholder": _plain("What do you see, since when, who is affected?"),
    }
    if prefill.summary:
        element["initial_value"] = truncate(prefill.summary, SUMMARY_MAX_LENGTH)
    return {
        "type": "input",
        "block_id": BlockId.DECLARE_SUMMARY.value,
        "label": _plain("Summary"),
        "element": element,
    }


def _category_input(catalog: Catalog, prefill: DeclarePrefill) -> Block:
    groups: list[Block] = []
    chosen: Block | None = None
    for group in catalog.groups:
        options: list[Block] = []
        for category in catalog.categories:
            if category.group != group.key:
                continue
            option = _option(category.name, category.key, category.description)
            options.append(option)
            if category.key == prefill.category:
                chosen = option
        if options:
            groups.append({"label": _plain(truncate(group.name, 75)), "options": options[:100]})
    element: Block = {
        "type": "static_select",
        "action_id": ActionId.DECLARE_CATEGORY.value,
        "placeholder": _plain("What is broken?"),
        "option_groups": groups[:100],
    }
    if chosen is not None:
        element["initial_option"] = chosen
    return {
        "type": "input",
        "block_id": BlockId.DECLARE_CATEGORY.value,
        "label": _plain("Category"),
        "element": element,
    }


def _environments_input(catalog: Catalog, prefill: DeclarePrefill) -> Block:
    options = [_option(env.name, env.key) for env in catalog.environments[:MAX_OPTIONS]]
    wanted = list(prefill.environments) or [catalog.default_environment.key]
    by_value = {option["value"]: option for option in options}
    initial = [by_value[key] for key in dict.fromkeys(wanted) if key in by_value]
    element: Block = {
        "type": "multi_static_select",
        "action_id": BlockId.DECLARE_ENVIRONMENTS.value,
        "placeholder": _plain("Where?"),
        "options": options,
    }
    if initial:
        element["initial_options"] = initial
    return {
        "type": "input",
        "block_id": BlockId.DECLARE_ENVIRONMENTS.value,
        "label": _plain("Environments"),
        "hint": _plain("The first one is the primary environment."),
        "element": element,
    }


def _custom_field_input(custom: CustomField, prefill: DeclarePrefill) -> Block:
    block_id = f"{BlockId.CUSTOM_FIELD_PREFIX}{custom.key}"
    value = prefill.custom_fields.get(custom.key)
    element: Block
    if custom.type == "text":
        element = {"type": "plain_text_input", "max_length": TEXT_FIELD_MAX_LENGTH}
        if isinstance(value, str) and value:
            element["initial_value"] = truncate(value, TEXT_FIELD_MAX_LENGTH)
    elif custom.type in ("select", "multi_select"):
        options = [_option(text, text) for text in custom.options if text][:MAX_OPTIONS]
        element = {
            "type": "static_select" if custom.type == "select" else "multi_static_select",
            "placeholder": _plain("Choose"),
            "options": options,
        }
        if custom.type == "select":
            _set_initial_option(element, options, value if isinstance(value, str) else None)
        else:
            wanted = (
                {_option_value(v) for v in value if isinstance(v, str)}
                if isinstance(value, list)
                else set()
            )
            initial = [option for option in options if option["value"] in wanted]
            if initial:
                element["initial_options"] = initial
    elif custom.type == "user":
        element = {"type": "users_select", "placeholder": _plain("Choose someone")}
        if isinstance(value, str) and re.fullmatch(r"[UW][A-Z0-9]+", value):
            element["initial_user"] = value
    else:
        element = {"type": "number_input", "is_decimal_allowed": False}
        for key, bound in (("min_value", custom.min), ("max_value", custom.max)):
            if bound is not None and float(bound).is_integer():
                element[key] = str(int(bound))
        text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
        if _NUMBER.match(text.strip()):
            element["initial_value"] = text.strip()
    element["action_id"] = block_id
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "optional": not custom.required,
        "label": _plain(custom.label),
        "element": element,
    }
    if custom.description:
        block["hint"] = _plain(truncate(custom.description, HINT_MAX))
    return block


def _private_input(prefill: DeclarePrefill) -> Block:
    option = {"text": _plain(PRIVATE_TEXT), "value": PRIVATE_VALUE}
    element: Block = {
        "type": "checkboxes",
        "action_id": BlockId.DECLARE_PRIVATE.value,
        "options": [option],
    }
    if prefill.private:
        element["initial_options"] = [option]
    return {
        "type": "input",
        "block_id": BlockId.DECLARE_PRIVATE.value,
        "optional": True,
        "label": _plain("Visibility"),
        "element": element,
    }


def _source_context(source: SourceMessage) -> Block:
    where = (
        f"<{escape(source.permalink)}|a message>"
        if source.permalink and source.permalink.startswith(("https://", "http://"))
        else "a message"
    )
    if not source.permalink and _SLACK_ID.match(source.channel_id):
        where += f" in <#{source.channel_id}>"
    text = f"Declared from {where}"
    if source.author_id and _SLACK_ID.match(source.author_id):
        text += f" by <@{source.author_id}>"
    return _context(text + ".")


def _metadata(prefill: DeclarePrefill) -> str:
    """``{"source": {...} | null, "origin": channel id | null}``, the source text cut so that the
    whole stays within Slack's 3000 characters."""
    source = prefill.source
    data: dict[str, Any] = {"source": None, "origin": prefill.origin_channel_id}
    if source is None:
        return _dumps(data)
    data["source"] = {
        "channel_id": source.channel_id,
        "ts": source.ts,
        "text": "",
        "author_id": source.author_id,
        "permalink": source.permalink,
        "thread_ts": source.thread_ts,
    }
    text, keep = source.text, len(source.text)
    while True:
        data["source"]["text"] = text if keep >= len(text) else truncate(text, keep)
        overflow = len(_dumps(data)) - PRIVATE_METADATA_MAX
        if overflow <= 0:
            return _dumps(data)
        if keep <= 0:
            break
        # JSON escapes make some characters longer: cut at least by the overflow and retry.
        keep = max(0, min(keep, len(text)) - max(overflow, 1))
    data["source"]["text"] = ""
    data["source"]["permalink"] = None  # absurdly long ids or permalink: keep what matters
    return _dumps(data)[:PRIVATE_METADATA_MAX]


# ---------------------------------------------------------------------------------------------------
# Reading a view back
# ---------------------------------------------------------------------------------------------------


def prefill_from_view(view: Mapping[str, Any]) -> DeclarePrefill:
    """What the modal currently holds (typed values and ``private_metadata``): re-render it with
    ``declare_modal(catalog, prefill_from_view(view), recent=...)`` on each ``block_actions``."""
    values = _state(view)
    metadata = _read_metadata(view)
    impacts: dict[str, str] = {}
    custom_fields: dict[str, JsonValue] = {}
    for block_id in values:
        if block_id.startswith(BlockId.DECLARE_IMPACT_PREFIX):
            level = _single(values, block_id)
            if level:
                impacts[block_id.removeprefix(BlockId.DECLARE_IMPACT_PREFIX)] = level
        elif block_id.startswith(BlockId.CUSTOM_FIELD_PREFIX):
            value = _value(values, block_id)
            if value not in (None, "", []):
                custom_fields[block_id.removeprefix(BlockId.CUSTOM_FIELD_PREFIX)] = value
    override_text = _single(values, BlockId.DECLARE_OVERRIDE)
    try:
        override = Priority.parse(override_text) if override_text else None
    except ValueError:
        override = None
    return DeclarePrefill(
        title=_text(values, BlockId.DECLARE_TITLE),
        summary=_text(values, BlockId.DECLARE_SUMMARY),
        impacts=impacts,
        priority_override=override,
        override_reason=_text(values, BlockId.DECLARE_OVERRIDE_REASON),
        category=_single(values, BlockId.DECLARE_CATEGORY),
        environments=tuple(_multi(values, BlockId.DECLARE_ENVIRONMENTS)),
        private=PRIVATE_VALUE in _multi(values, BlockId.DECLARE_PRIVATE),
        custom_fields=custom_fields,
        source=_source_from(metadata.get("source")),
        origin_channel_id=_str_or_none(metadata.get("origin")),
    )


def parse_declare(view: Mapping[str, Any], catalog: Catalog) -> Declaration:
    """The submitted declare form as a ``Declaration``, or ``DeclareFormInvalid`` carrying every
    problem keyed by the input block it belongs to."""
    values = _state(view)
    errors: dict[str, str] = {}
    table = impact_table(catalog)
    impact_keys = _impact_keys(catalog)
    first_impact_block = f"{BlockId.DECLARE_IMPACT_PREFIX}{impact_keys[0]}"

    # Impacts and priority.
    impacts: dict[str, str] = {}
    for type_key in impact_keys:
        block_id = f"{BlockId.DECLARE_IMPACT_PREFIX}{type_key}"
        level = _single(values, block_id)
        if level is None:
            continue
        if (type_key, level) not in table:
            errors[block_id] = "This level no longer exists: choose again."
            continue
        impacts[type_key] = level
    override_text = _single(values, BlockId.DECLARE_OVERRIDE)
    override: Priority | None = None
    if override_text:
        try:
            override = Priority.parse(override_text)
        except ValueError:
            errors[BlockId.DECLARE_OVERRIDE.value] = "Unknown priority: choose again."
    reason = _text(values, BlockId.DECLARE_OVERRIDE_REASON).strip()
    decision: PriorityDecision | None = None
    try:
        decision = priority_from_impacts(
            impacts,
            table,
            override=override,
            reason=reason,
            impact_names=[t.name for t in catalog.impacts.types],
        )
    except NoImpactChosen as exc:
        errors.setdefault(first_impact_block, exc.message)
        if override is not None and len(reason) < OVERRIDE_REASON_MIN_LENGTH:
            errors[BlockId.DECLARE_OVERRIDE_REASON.value] = (
                f"Say why {override.label} (at least {OVERRIDE_REASON_MIN_LENGTH} characters)."
            )
    except UnknownImpact as exc:  # pragma: no cover - stale levels are refused above
        errors.setdefault(first_impact_block, exc.message)
    except OverrideRefused as exc:
        errors[BlockId.DECLARE_OVERRIDE_REASON.value] = exc.message

    # Title, summary, environments.
    title = _text(values, BlockId.DECLARE_TITLE).strip()
    summary = _text(values, BlockId.DECLARE_SUMMARY).strip()
    environments = tuple(_multi(values, BlockId.DECLARE_ENVIRONMENTS))
    problems = validate_declaration(
        title=title,
        summary=summary,
        environments=environments,
        known_environments=[env.key for env in catalog.environments],
    )
    for field_name, message in problems.items():
        errors[_FIELD_BLOCKS.get(field_name, first_impact_block)] = message

    # Category.
    category = _single(values, BlockId.DECLARE_CATEGORY) or ""
    if not category:
        errors[BlockId.DECLARE_CATEGORY.value] = "Choose a category."
    elif category not in {c.key for c in catalog.categories}:
        errors[BlockId.DECLARE_CATEGORY.value] = (
            "This category no longer exists: choose another one."
        )

    # Custom fields: those the form showed; required only when they apply to the priority.
    shown = _shown_blocks(view, values)
    priority = decision.priority if decision else None
    applicable = {custom.key for custom in fields_for(catalog, priority)}
    custom_fields: dict[str, JsonValue] = {}
    for custom in catalog.custom_fields:
        block_id = f"{BlockId.CUSTOM_FIELD_PREFIX}{custom.key}"
        if block_id not in shown:
            continue
        value, problem = _custom_value(custom, _value(values, block_id))
        if problem:
            errors[block_id] = problem
        elif value is not None:
            custom_fields[custom.key] = value
        elif custom.required and custom.key in applicable:
            errors[block_id] = f"{custom.label}: this field is required."

    if errors:
        raise DeclareFormInvalid(errors)
    assert decision is not None  # no error means the impacts gave a priority
    overridden = decision.overridden
    return Declaration(
        title=title,
        summary=summary,
        impacts=impacts,
        category=category,
        environments=environments,
        priority_override=decision.priority if overridden else None,
        override_reason=decision.reason if overridden else None,
        custom_fields=custom_fields,
        private=PRIVATE_VALUE in _multi(values, BlockId.DECLARE_PRIVATE),
        source=_source_from(_read_metadata(view).get("source")),
    )


def _custom_value(custom: CustomField, raw: JsonValue) -> tuple[JsonValue, str | None]:
    """The stored value of a custom field (``None``: empty) or the problem with it."""
    if raw is None or raw in ("", []):
        return None, None
    if custom.type == "text":
        text = str(raw).strip()
        return (text or None), None
    if custom.type == "user":
        return str(raw), None
    if custom.type in ("select", "multi_select"):
        by_value = {_option_value(option): option for option in custom.options if option}
        chosen = raw if isinstance(raw, list) else [raw]
        unknown = [str(v) for v in chosen if str(v) not in by_value]
        if unknown:
            return None, f"Unknown option: {', '.join(unknown)}. Choose again."
        picked: list[JsonValue] = [by_value[str(v)] for v in chosen]
        return (picked if custom.type == "multi_select" else picked[0]), None
    text = str(raw).strip()
    if not _NUMBER.match(text):
        return None, f"{custom.label} must be a whole number ({text!r} given)."
    number = int(text)
    if custom.min is not None and number < custom.min:
        return None, f"{custom.label} must be at least {_number(custom.min)} ({number} given)."
    if custom.max is not None and number > custom.max:
        return None, f"{custom.label} can be at most {_number(custom.max)} ({number} given)."
    return number, None


def _shown_blocks(view: Mapping[str, Any], values: Mapping[str, Any]) -> set[str]:
    blocks = view.get("blocks")
    if isinstance(blocks, list):
        return {str(b.get("block_id")) for b in blocks if isinstance(b, dict)}
    return set(values)


# ---------------------------------------------------------------------------------------------------
# view_submission / block_actions state (SLACK: state.values[block_id][action_id] = {type, ...})
# ---------------------------------------------------------------------------------------------------


def _state(view: Mapping[str, Any]) -> Mapping[str, Any]:
    state = view.get("state")
    values = state.get("values") if isinstance(state, Mapping) else None
    return values if isinstance(values, Mapping) else {}


def _entry(values: Mapping[str, Any], block_id: str) -> Mapping[str, Any]:
    actions = values.get(block_id)
    if not isinstance(actions, Mapping) or not actions:
        return {}
    entry = next(iter(actions.values()))
    return entry if isinstance(entry, Mapping) else {}


def _value(values: Mapping[str, Any], block_id: str) -> JsonValue:
    """The value of one input, whatever its element: a string, a list of strings or ``None``."""
    entry = _entry(values, block_id)
    kind = entry.get("type")
    if kind in ("static_select", "radio_buttons"):
        option = entry.get("selected_option")
        return _str_or_none(option.get("value")) if isinstance(option, Mapping) else None
    if kind in ("multi_static_select", "checkboxes"):
        options = entry.get("selected_options") or []
        return [str(o["value"]) for o in options if isinstance(o, Mapping) and "value" in o]
    if kind == "users_select":
        return _str_or_none(entry.get("selected_user"))
    return _str_or_none(entry.get("value"))


def _single(values: Mapping[str, Any], block_id: str) -> str | None:
    value = _value(values, block_id)
    return value if isinstance(value, str) and value else None


def _multi(values: Mapping[str, Any], block_id: str) -> list[str]:
    value = _value(values, block_id)
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _text(values: Mapping[str, Any], block_id: str) -> str:
    value = _value(values, block_id)
    return value if isinstance(value, str) else ""


def _read_metadata(view: Mapping[str, Any]) -> Mapping[str, Any]:
    raw = view.get("private_metadata")
    if not isinstance(raw, str) or not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, Mapping) else {}


def _source_from(data: object) -> SourceMessage | None:
    if not isinstance(data, Mapping):
        return None
    channel_id, ts = _str_or_none(data.get("channel_id")), _str_or_none(data.get("ts"))
    if not channel_id or not ts:
        return None
    return SourceMessage(
        channel_id=channel_id,
        ts=ts,
        text=_str_or_none(data.get("text")) or "",
        author_id=_str_or_none(data.get("author_id")),
        permalink=_str_or_none(data.get("permalink")),
        thread_ts=_str_or_none(data.get("thread_ts")),
    )


# ---------------------------------------------------------------------------------------------------
# Small pieces
# ---------------------------------------------------------------------------------------------------


def _plain(text: str) -> Block:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _option_value(text: str) -> str:
    return text[:OPTION_VALUE_MAX]


def _option(text: str, value: str, description: str = "") -> Block:
    option: Block = {
        "text": _plain(truncate(text, OPTION_TEXT_MAX)),
        "value": _option_value(value),
    }
    if description:
        option["description"] = _plain(truncate(description, OPTION_TEXT_MAX))
    return option


def _set_initial_option(element: Block, options: Sequence[Block], value: str | None) -> None:
    if value is None:
        return
    for option in options:
        if option["value"] == _option_value(value):
            element["initial_option"] = option
            return


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _dumps(data: Mapping[str, Any]) -> str:
    # ASCII only: the length Slack counts is then the length Python counts.
    return json.dumps(data, separators=(",", ":"))


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
