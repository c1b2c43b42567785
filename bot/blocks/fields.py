"""Input pieces the declare and manage modals share: options, and the catalog's custom fields.

A custom field is one input block ``custom_field.<key>`` whose element depends on the field's type;
both modals build it with ``custom_field_input`` and read it back with ``custom_value``, so that a
value chosen when declaring is shown and checked the same way when updating. Option values are the
option text cut to 150 characters; numbers are whole.

``escaped``: the manage modals escape catalog text (labels, option texts, hints) before cutting it;
the declare modal cuts it as it is. Both are kept as they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from bot.blocks.ids import BlockId
from bot.blocks.text import fit, truncate
from bot.config import Catalog, CustomField
from bot.domain.incident import JsonValue, Priority

Block = dict[str, Any]

MAX_OPTIONS = 100
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
LABEL_MAX = 2000
TEXT_FIELD_MAX_LENGTH = 2000
MODAL_TITLE_MAX = 24
SECTION_MAX = 3000

_USER_ID = re.compile(r"[UW][A-Z0-9]+")
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


# --- options ---------------------------------------------------------------------------------------


def plain(text: str) -> Block:
    return {"type": "plain_text", "text": text, "emoji": True}


def option(text: str, value: str, *, description: str = "", escaped: bool = True) -> Block:
    """An option; user or catalog text is escaped (``escaped=False`` keeps it as it is)."""
    cut = _cutter(escaped)
    built: Block = {"text": plain(cut(text, OPTION_TEXT_MAX)), "value": option_value(value)}
    if description:
        built["description"] = plain(cut(description, OPTION_TEXT_MAX))
    return built


def option_value(text: str) -> str:
    return text[:OPTION_VALUE_MAX]


def set_initial_option(element: Block, options: Sequence[Block], value: str | None) -> None:
    """Preselect the option whose value is ``value`` (nothing when none is)."""
    if value is None:
        return
    for candidate in options:
        if candidate["value"] == option_value(value):
            element["initial_option"] = candidate
            return


def _cutter(escaped: bool) -> Callable[[str, int], str]:
    return fit if escaped else truncate


# --- blocks and views the manage and timeline modals share -----------------------------------------


def modal_view(
    callback_id: str,
    title: str,
    blocks: list[Block],
    metadata: str,
    *,
    submit: str | None = None,
    close: str = "Cancel",
) -> Block:
    view: Block = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(fit(title, MODAL_TITLE_MAX)),
        "close": plain(fit(close, MODAL_TITLE_MAX)),
        "blocks": blocks,
        "private_metadata": metadata,
    }
    if submit is not None:
        view["submit"] = plain(fit(submit, MODAL_TITLE_MAX))
    return view


def section_block(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_MAX)}}


def context_block(text: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(text, SECTION_MAX)}],
    }


def input_block(
    block_id: str,
    label: str,
    element: Block,
    *,
    optional: bool = False,
    hint: str | None = None,
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(fit(label, LABEL_MAX)),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(fit(hint, LABEL_MAX))
    return block


def text_input(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    optional: bool = False,
    multiline: bool = False,
    max_length: int | None = None,
    placeholder: str | None = None,
    hint: str | None = None,
) -> Block:
    """A plain_text_input; ``initial`` is the raw value to edit (never escaped: what the user sees
    and submits back is the stored text)."""
    element: Block = {"type": "plain_text_input", "action_id": block_id}
    if multiline:
        element["multiline"] = True
    if max_length is not None:
        element["max_length"] = max_length
    if initial:
        element["initial_value"] = truncate(initial, max_length) if max_length else initial
    if placeholder:
        element["placeholder"] = plain(placeholder)
    return input_block(block_id, label, element, optional=optional, hint=hint)


# --- custom fields ---------------------------------------------------------------------------------


def custom_field_block_id(custom: CustomField) -> str:
    return f"{BlockId.CUSTOM_FIELD_PREFIX}{custom.key}"


def fields_for(catalog: Catalog, priority: Priority | None) -> list[CustomField]:
    """The custom fields a modal shows at ``priority``: the unrestricted ones always, those
    restricted to some priorities only once the priority is one of them."""
    return [
        custom
        for custom in catalog.custom_fields
        if not custom.priorities or (priority is not None and priority.label in custom.priorities)
    ]


def custom_field_input(custom: CustomField, value: JsonValue, *, escaped: bool) -> Block:
    """The input block of one custom field, ``value`` (stored or typed) preselected when valid."""
    cut = _cutter(escaped)
    block_id = custom_field_block_id(custom)
    element: Block
    if custom.type == "text":
        element = {"type": "plain_text_input", "max_length": TEXT_FIELD_MAX_LENGTH}
        if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value):
            element["initial_value"] = truncate(str(value), TEXT_FIELD_MAX_LENGTH)
    elif custom.type in ("select", "multi_select"):
        options = [option(text, text, escaped=escaped) for text in custom.options if text]
        options = options[:MAX_OPTIONS]
        element = {
            "type": "static_select" if custom.type == "select" else "multi_static_select",
            "placeholder": plain("Choose"),
            "options": options,
        }
        if custom.type == "select":
            set_initial_option(element, options, value if isinstance(value, str) else None)
        else:
            chosen = value if isinstance(value, list) else []
            wanted = {option_value(v) for v in chosen if isinstance(v, str)}
            initial = [o for o in options if o["value"] in wanted]
            if initial:
                element["initial_options"] = initial
    elif custom.type == "user":
        element = {"type": "users_select", "placeholder": plain("Choose someone")}
        if isinstance(value, str) and _USER_ID.fullmatch(value):
            element["initial_user"] = value
    else:
        element = {"type": "number_input", "is_decimal_allowed": False}
        for key, bound in (("min_value", custom.min), ("max_value", custom.max)):
            if bound is not None and float(bound).is_integer():
                element[key] = str(int(bound))
        number = _whole_number_text(value)
        if number is not None:
            element["initial_value"] = number
    element["action_id"] = block_id
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(cut(custom.label, LABEL_MAX)),
        "element": element,
        "optional": not custom.required,
    }
    if custom.description:
        block["hint"] = plain(cut(custom.description, LABEL_MAX))
    return block


def custom_value(custom: CustomField, raw: JsonValue) -> tuple[JsonValue, str | None]:
    """The stored value of a custom field (``None``: empty) or the problem with it."""
    if raw is None or raw in ("", []):
        return None, None
    if custom.type == "text":
        return (str(raw).strip() or None), None
    if custom.type == "user":
        return str(raw), None
    if custom.type in ("select", "multi_select"):
        by_value = {option_value(text): text for text in custom.options if text}
        chosen = raw if isinstance(raw, list) else [raw]
        unknown = [str(v) for v in chosen if str(v) not in by_value]
        if unknown:
            return None, f"Unknown option: {', '.join(unknown)}. Choose again."
        picked: list[JsonValue] = [by_value[str(v)] for v in chosen]
        return (picked if custom.type == "multi_select" else picked[0]), None
    text = str(raw).strip()
    if not _WHOLE_NUMBER.fullmatch(text):
        return None, f"{custom.label} must be a whole number ({text!r} given)."
    number = int(text)
    if custom.min is not None and number < custom.min:
        return None, f"{custom.label} must be at least {_number(custom.min)} ({number} given)."
    if custom.max is not None and number > custom.max:
        return None, f"{custom.label} can be at most {_number(custom.max)} ({number} given)."
    return number, None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _whole_number_text(value: JsonValue) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else None
    text = str(value).strip() if isinstance(value, int | str) else ""
    return text if _WHOLE_NUMBER.fullmatch(text) else None
