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

from bot.blocks import state
from bot.blocks.fields import (
    custom_field_block_id,
    custom_field_input,
    custom_value,
    fields_for,
    option,
    plain,
    set_initial_option,
)
from bot.blocks.ids import ActionId, BlockId, CallbackId
from bot.blocks.text import escape, truncate
from bot.config import Catalog
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
HINT_MAX = 2000
PRIVATE_METADATA_MAX = 3000
GUARD_MAX_LISTED = 5
"""At most this many recent incidents are listed in the duplicate guard (each is one block)."""
OVERRIDE_REASON_MAX_LENGTH = 500

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
            title=_headline_of(first_line),
            summary=truncate(text, SUMMARY_MAX_LENGTH),
            source=source,
            origin_channel_id=origin_channel_id or source.channel_id,
        )


PREFILLED_TITLE_LENGTH = 80


def _headline_of(line: str) -> str:
    """A title from a message's first line: its first sentence, cut at a word boundary to fit a
    readable title (and channel name); the person edits it before declaring anyway."""
    sentence = re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0].rstrip(".")
    if len(sentence) <= PREFILLED_TITLE_LENGTH:
        return sentence
    cut = sentence[: PREFILLED_TITLE_LENGTH - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return truncate(cut + "…", TITLE_MAX_LENGTH)


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


# ---------------------------------------------------------------------------------------------------
# The modal
# ---------------------------------------------------------------------------------------------------


def declare_modal(
    catalog: Catalog,
    prefill: DeclarePrefill | None = None,
    *,
    recent: Sequence[Incident] = (),
    oncall: Sequence[Block] | None = None,
) -> View:
    """The declare modal.

    ``recent``: the P1-P3 incidents declared in the last hour (the caller picks them; pass them
    again when re-rendering, or the duplicate guard disappears).

    ``oncall``: who is on call for a priority paged at declaration (``bot.blocks.oncall``), shown
    under the priority. None when PagerDuty is not configured; otherwise (even empty) choosing a
    category re-renders the modal too, since the category says whom to page."""
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
    blocks += list(oncall or ())
    blocks += _override_inputs(catalog, prefill)
    blocks.append({"type": "divider"})
    blocks += [
        _title_input(prefill),
        _summary_input(prefill),
        _category_input(catalog, prefill, dispatch=oncall is not None),
        _environments_input(catalog, prefill),
    ]
    tail = [_private_input(prefill)]
    shown = fields_for(catalog, decision.priority if decision else None)
    room = MAX_BLOCKS - len(blocks) - len(tail)
    blocks += [
        custom_field_input(custom, prefill.custom_fields.get(custom.key), escaped=False)
        for custom in shown[: max(0, room)]
    ]
    blocks += tail
    return {
        "type": "modal",
        "callback_id": CallbackId.DECLARE_MODAL.value,
        "title": plain("Declare an incident"),
        "submit": plain("Declare"),
        "close": plain("Cancel"),
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
                    "text": plain("Join"),
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
        "placeholder": plain("Choose a level"),
        "options": options,
    }
    set_initial_option(element, options, prefill.impacts.get(type_key))
    block: Block = {
        "type": "input",
        "block_id": f"{BlockId.DECLARE_IMPACT_PREFIX}{type_key}",
        "dispatch_action": True,
        "optional": True,
        "label": plain(impact_type.name),
        "element": element,
    }
    if impact_type.description:
        block["hint"] = plain(truncate(impact_type.description, HINT_MAX))
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
        "placeholder": plain("Keep the priority the impacts give"),
        "options": options,
    }
    override = prefill.priority_override
    set_initial_option(element, options, override.label if override else None)
    return [
        {
            "type": "input",
            "block_id": BlockId.DECLARE_OVERRIDE.value,
            "optional": True,
            "label": plain("Override the priority"),
            "hint": plain("Only when the impacts do not tell the whole story: say why below."),
            "element": element,
        },
        _text_input(
            BlockId.DECLARE_OVERRIDE_REASON,
            "Why this priority?",
            prefill.override_reason,
            max_length=OVERRIDE_REASON_MAX_LENGTH,
            placeholder="Why the impacts do not tell the whole story",
            optional=True,
            hint=plain(
                f"Required with an override (at least {OVERRIDE_REASON_MIN_LENGTH} characters)."
            ),
        ),
    ]


def _title_input(prefill: DeclarePrefill) -> Block:
    return _text_input(
        BlockId.DECLARE_TITLE,
        "Title",
        prefill.title,
        max_length=TITLE_MAX_LENGTH,
        placeholder="What is broken, in a few words",
    )


def _summary_input(prefill: DeclarePrefill) -> Block:
    return _text_input(
        BlockId.DECLARE_SUMMARY,
        "Summary",
        prefill.summary,
        max_length=SUMMARY_MAX_LENGTH,
        placeholder="What do you see, since when, who is affected?",
        multiline=True,
    )


def _text_input(
    block_id: BlockId,
    label: str,
    initial: str,
    *,
    max_length: int,
    placeholder: str,
    multiline: bool = False,
    **block: Any,
) -> Block:
    """A plain_text_input block (its action id is its block id); ``block``: more keys of the
    input block (``optional``, ``hint``)."""
    element: Block = {"type": "plain_text_input", "action_id": block_id.value}
    if multiline:
        element["multiline"] = True
    element["max_length"] = max_length
    element["placeholder"] = plain(placeholder)
    if initial:
        element["initial_value"] = truncate(initial, max_length)
    return {
        "type": "input",
        "block_id": block_id.value,
        "label": plain(label),
        "element": element,
        **block,
    }


def _category_input(catalog: Catalog, prefill: DeclarePrefill, *, dispatch: bool = False) -> Block:
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
            groups.append({"label": plain(truncate(group.name, 75)), "options": options[:100]})
    element: Block = {
        "type": "static_select",
        "action_id": ActionId.DECLARE_CATEGORY.value,
        "placeholder": plain("What is broken?"),
        "option_groups": groups[:100],
    }
    if chosen is not None:
        element["initial_option"] = chosen
    block: Block = {
        "type": "input",
        "block_id": BlockId.DECLARE_CATEGORY.value,
        "label": plain("Category"),
        "element": element,
    }
    if dispatch:
        block["dispatch_action"] = True  # the on-call section follows the category
    return block


def _environments_input(catalog: Catalog, prefill: DeclarePrefill) -> Block:
    options = [_option(env.name, env.key) for env in catalog.environments[:MAX_OPTIONS]]
    wanted = list(prefill.environments) or [catalog.default_environment.key]
    by_value = {option["value"]: option for option in options}
    initial = [by_value[key] for key in dict.fromkeys(wanted) if key in by_value]
    element: Block = {
        "type": "multi_static_select",
        "action_id": BlockId.DECLARE_ENVIRONMENTS.value,
        "placeholder": plain("Where?"),
        "options": options,
    }
    if initial:
        element["initial_options"] = initial
    return {
        "type": "input",
        "block_id": BlockId.DECLARE_ENVIRONMENTS.value,
        "label": plain("Environments"),
        "hint": plain("The first one is the primary environment."),
        "element": element,
    }


def _private_input(prefill: DeclarePrefill) -> Block:
    option = {"text": plain(PRIVATE_TEXT), "value": PRIVATE_VALUE}
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
        "label": plain("Visibility"),
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
    values = state.values_of(view)
    metadata = state.metadata_of(view)
    impacts: dict[str, str] = {}
    custom_fields: dict[str, JsonValue] = {}
    for block_id in values:
        if block_id.startswith(BlockId.DECLARE_IMPACT_PREFIX):
            level = state.single(values, block_id)
            if level:
                impacts[block_id.removeprefix(BlockId.DECLARE_IMPACT_PREFIX)] = level
        elif block_id.startswith(BlockId.CUSTOM_FIELD_PREFIX):
            value = state.value(values, block_id)
            if value not in (None, "", []):
                custom_fields[block_id.removeprefix(BlockId.CUSTOM_FIELD_PREFIX)] = value
    override_text = state.single(values, BlockId.DECLARE_OVERRIDE)
    try:
        override = Priority.parse(override_text) if override_text else None
    except ValueError:
        override = None
    return DeclarePrefill(
        title=state.text(values, BlockId.DECLARE_TITLE),
        summary=state.text(values, BlockId.DECLARE_SUMMARY),
        impacts=impacts,
        priority_override=override,
        override_reason=state.text(values, BlockId.DECLARE_OVERRIDE_REASON),
        category=state.single(values, BlockId.DECLARE_CATEGORY),
        environments=tuple(state.multi(values, BlockId.DECLARE_ENVIRONMENTS)),
        private=PRIVATE_VALUE in state.multi(values, BlockId.DECLARE_PRIVATE),
        custom_fields=custom_fields,
        source=_source_from(metadata.get("source")),
        origin_channel_id=state.str_or_none(metadata.get("origin")),
    )


def parse_declare(view: Mapping[str, Any], catalog: Catalog) -> Declaration:
    """The submitted declare form as a ``Declaration``, or ``DeclareFormInvalid`` carrying every
    problem keyed by the input block it belongs to."""
    values = state.values_of(view)
    errors: dict[str, str] = {}
    table = impact_table(catalog)
    impact_keys = _impact_keys(catalog)
    first_impact_block = f"{BlockId.DECLARE_IMPACT_PREFIX}{impact_keys[0]}"

    # Impacts and priority.
    impacts: dict[str, str] = {}
    for type_key in impact_keys:
        block_id = f"{BlockId.DECLARE_IMPACT_PREFIX}{type_key}"
        level = state.single(values, block_id)
        if level is None:
            continue
        if (type_key, level) not in table:
            errors[block_id] = "This level no longer exists: choose again."
            continue
        impacts[type_key] = level
    override_text = state.single(values, BlockId.DECLARE_OVERRIDE)
    override: Priority | None = None
    if override_text:
        try:
            override = Priority.parse(override_text)
        except ValueError:
            errors[BlockId.DECLARE_OVERRIDE.value] = "Unknown priority: choose again."
    reason = state.text(values, BlockId.DECLARE_OVERRIDE_REASON).strip()
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
    title = state.text(values, BlockId.DECLARE_TITLE).strip()
    summary = state.text(values, BlockId.DECLARE_SUMMARY).strip()
    environments = tuple(state.multi(values, BlockId.DECLARE_ENVIRONMENTS))
    problems = validate_declaration(
        title=title,
        summary=summary,
        environments=environments,
        known_environments=[env.key for env in catalog.environments],
    )
    for field_name, message in problems.items():
        errors[_FIELD_BLOCKS.get(field_name, first_impact_block)] = message

    # Category.
    category = state.single(values, BlockId.DECLARE_CATEGORY) or ""
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
        block_id = custom_field_block_id(custom)
        if block_id not in shown:
            continue
        value, problem = custom_value(custom, state.value(values, block_id))
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
        private=PRIVATE_VALUE in state.multi(values, BlockId.DECLARE_PRIVATE),
        source=_source_from(state.metadata_of(view).get("source")),
    )


def _shown_blocks(view: Mapping[str, Any], values: Mapping[str, Any]) -> set[str]:
    blocks = view.get("blocks")
    if isinstance(blocks, list):
        return {str(b.get("block_id")) for b in blocks if isinstance(b, dict)}
    return set(values)


# ---------------------------------------------------------------------------------------------------
# view_submission / block_actions state (SLACK: state.values[block_id][action_id] = {type, ...})
# ---------------------------------------------------------------------------------------------------


def _source_from(data: object) -> SourceMessage | None:
    if not isinstance(data, Mapping):
        return None
    channel_id, ts = state.str_or_none(data.get("channel_id")), state.str_or_none(data.get("ts"))
    if not channel_id or not ts:
        return None
    return SourceMessage(
        channel_id=channel_id,
        ts=ts,
        text=state.str_or_none(data.get("text")) or "",
        author_id=state.str_or_none(data.get("author_id")),
        permalink=state.str_or_none(data.get("permalink")),
        thread_ts=state.str_or_none(data.get("thread_ts")),
    )


# ---------------------------------------------------------------------------------------------------
# Small pieces
# ---------------------------------------------------------------------------------------------------


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _option(text: str, value: str, description: str = "") -> Block:
    """An option whose catalog text is cut as it is (the declare modal does not escape it)."""
    return option(text, value, description=description, escaped=False)


def _dumps(data: Mapping[str, Any]) -> str:
    # ASCII only: the length Slack counts is then the length Python counts.
    return json.dumps(data, separators=(",", ":"))


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
