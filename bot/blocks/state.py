"""Reading a submitted or re-rendered view back, for every modal's parser.

Slack sends ``view["state"]["values"]`` as ``{block_id: {action_id: {"type": …, <value>}}}``; the
parsers read it by block id only (each input block holds one element). ``private_metadata`` is the
JSON the builder stored. Everything here is pure and forgiving: a missing or malformed part reads
as empty, and the parser decides whether that is an error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.domain.incident import JsonValue


def values_of(view: Mapping[str, Any]) -> Mapping[str, Any]:
    """``view["state"]["values"]``, or ``{}``."""
    state = view.get("state")
    values = state.get("values") if isinstance(state, Mapping) else None
    return values if isinstance(values, Mapping) else {}


def value(values: Mapping[str, Any], block_id: str) -> JsonValue:
    """The value of the one element of an input block, whatever its type: a string, a list of
    strings or ``None``."""
    actions = values.get(block_id)
    entry = next(iter(actions.values()), None) if isinstance(actions, Mapping) else None
    if not isinstance(entry, Mapping):
        return None
    kind = entry.get("type")
    if kind in ("static_select", "radio_buttons"):
        option = entry.get("selected_option")
        return str_or_none(option.get("value")) if isinstance(option, Mapping) else None
    if kind in ("multi_static_select", "checkboxes"):
        options = entry.get("selected_options")
        if not isinstance(options, list):
            return []
        return [str(o["value"]) for o in options if isinstance(o, Mapping) and "value" in o]
    if kind == "users_select":
        return str_or_none(entry.get("selected_user"))
    raw = entry.get("value")
    return str(raw) if isinstance(raw, str | int | float) else None


def single(values: Mapping[str, Any], block_id: str) -> str | None:
    """A one-choice input's value (``None``: nothing chosen)."""
    found = value(values, block_id)
    return found if isinstance(found, str) and found else None


def multi(values: Mapping[str, Any], block_id: str) -> list[str]:
    """A many-choice input's values (``[]``: nothing chosen)."""
    found = value(values, block_id)
    return [v for v in found if isinstance(v, str)] if isinstance(found, list) else []


def text(values: Mapping[str, Any], block_id: str) -> str:
    """A text input's value as typed (``""``: empty)."""
    found = value(values, block_id)
    return found if isinstance(found, str) else ""


def metadata_of(view: Mapping[str, Any]) -> Mapping[str, Any]:
    """The view's ``private_metadata`` JSON object, or ``{}`` when it is empty or not ours."""
    raw = view.get("private_metadata")
    try:
        data = json.loads(raw) if isinstance(raw, str) and raw else {}
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


LATEST_PICKED_TIME = 253_370_764_800
"""9999-01-01 UTC: later, a time shown in a time zone east of UTC would overflow ``datetime``."""


def picked_time(values: Mapping[str, Any], block_id: str) -> int | None:
    """A datetimepicker's Unix time in whole seconds; ``None`` when nothing is picked, or when the
    value is no time between 1970 and 9999 (a forged or corrupted payload: a huge or negative
    number, a float infinity or NaN), so the parser refuses it in words instead of failing on it."""
    actions = values.get(block_id)
    entry = next(iter(actions.values()), None) if isinstance(actions, Mapping) else None
    stamp = entry.get("selected_date_time") if isinstance(entry, Mapping) else None
    if not isinstance(stamp, int | float) or isinstance(stamp, bool):
        return None
    if not LATEST_PICKED_TIME >= stamp >= 0:  # also false for NaN
        return None
    return int(stamp)


MAX_ID = 2**31 - 1
"""The largest id PostgreSQL's ``integer`` holds (incidents, timeline entries)."""


def row_id(text: object) -> int | None:
    """An id carried in a button's value or a picker's option: ASCII digits only (``isdigit``
    also accepts "²", which ``int`` refuses), from 1 to ``MAX_ID``; ``None`` for anything else
    (a stale or forged value), which the caller refuses in words."""
    if not isinstance(text, str) or not text.isascii() or not text.isdecimal():
        return None
    found = int(text)
    return found if 0 < found <= MAX_ID else None


def str_or_none(found: object) -> str | None:
    return found if isinstance(found, str) else None
