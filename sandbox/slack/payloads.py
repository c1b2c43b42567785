"""Payloads Slack sends to the app, built from the sandbox state (SLACK_NOTES §6.3, [view-payloads]).

* `events_api`: the `event_callback` wrapper with `event_id`, `event_time`, `authorizations` (one entry;
  `authed_users` was deprecated in 2021, §13).
* `slash_commands`: the slash command fields as JSON ([slash]).
* `interactive`: `block_actions`, `view_submission`, `view_closed`, `shortcut`, `message_action`.
* `view.state.values`: `{block_id: {action_id: {"type": element type, <value field>}}}` with the value field
  each element type uses (`value`, `selected_option`, `selected_options`, `selected_user`, `selected_date`…).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from sandbox.slack.state import JSON, User
from sandbox.slack.workspace import Workspace

#: Element types that hold a value in `view.state.values`, and the field carrying it.
VALUE_FIELD: dict[str, str] = {
    "plain_text_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
    "number_input": "value",
    "rich_text_input": "rich_text_value",
    "static_select": "selected_option",
    "external_select": "selected_option",
    "radio_buttons": "selected_option",
    "multi_static_select": "selected_options",
    "multi_external_select": "selected_options",
    "checkboxes": "selected_options",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
}
#: Where an element keeps its initial value (so an untouched field submits it, as in Slack's client).
INITIAL_FIELD: dict[str, str] = {
    "value": "initial_value",
    "selected_option": "initial_option",
    "selected_options": "initial_options",
    "selected_user": "initial_user",
    "selected_users": "initial_users",
    "selected_conversation": "initial_conversation",
    "selected_conversations": "initial_conversations",
    "selected_channel": "initial_channel",
    "selected_channels": "initial_channels",
    "selected_date": "initial_date",
    "selected_time": "initial_time",
    "selected_date_time": "initial_date_time",
    "rich_text_value": "initial_value",
}


class PayloadError(AssertionError):
    """The simulated user tried something the UI does not offer (no such button, no such option)."""


def user_ref(ws: Workspace, user: User) -> JSON:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team_id}


def team_ref(ws: Workspace) -> JSON:
    return {"id": ws.team_id, "domain": ws.domain}


def event_callback(ws: Workspace, event: JSON) -> JSON:
    """The Events API wrapper around one event (§6.3, [authed-users])."""
    return {
        "token": "sandbox-verification-token",
        "team_id": ws.team_id,
        "context_team_id": ws.team_id,
        "context_enterprise_id": None,
        "api_app_id": ws.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": ws.ids.make("Ev", 11),
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ws.team_id,
                "user_id": ws.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + ws.ids.hex(24),
    }


def _all_options(element: JSON) -> Iterator[JSON]:
    yield from element.get("options") or []
    for group in element.get("option_groups") or []:
        yield from group.get("options") or []


def _option(element: JSON, value: Any) -> JSON:
    if isinstance(value, dict):
        value = value.get("value")
    for option in _all_options(element):
        if option.get("value") == value:
            return option
    offered = [o.get("value") for o in _all_options(element)]
    raise PayloadError(
        f"{element.get('action_id')!r} offers no option {value!r}; options: {offered}"
    )


def element_state(element: JSON, value: Any) -> JSON:
    """`{"type": …, <field>: …}` for one element, from a test-friendly value (ids, option values)."""
    kind = str(element.get("type"))
    field = VALUE_FIELD.get(kind)
    state: JSON = {"type": kind}
    if field is None:
        return state
    if value is None:
        value = element.get(INITIAL_FIELD[field])
        if field in {"selected_option", "selected_options"}:
            state[field] = value if value is not None or field == "selected_option" else []
            return state
    if field == "selected_option":
        state[field] = None if value is None else _option(element, value)
    elif field == "selected_options":
        state[field] = [_option(element, v) for v in (value or [])]
    elif field in {"selected_users", "selected_conversations", "selected_channels"}:
        state[field] = list(value or [])
    elif field == "selected_date_time":
        state[field] = None if value is None else int(value)
    elif kind == "number_input":
        state[field] = None if value is None else str(value)
    else:
        state[field] = value
    return state


def input_elements(blocks: list[Any]) -> Iterator[tuple[str, JSON, JSON]]:
    """(block_id, block, element) of every stateful element of a view."""
    for block in blocks:
        if not isinstance(block, dict):
            continue
        candidates: list[JSON] = []
        if block.get("type") == "input" and isinstance(block.get("element"), dict):
            candidates.append(block["element"])
        if block.get("type") in {"actions", "section"}:
            if isinstance(block.get("accessory"), dict):
                candidates.append(block["accessory"])
            candidates.extend(e for e in block.get("elements") or [] if isinstance(e, dict))
        for element in candidates:
            if element.get("type") in VALUE_FIELD:
                yield str(block.get("block_id", "")), block, element


def find_action(blocks: list[Any], action_id: str) -> tuple[JSON, JSON]:
    """The (block, element) holding `action_id`, or a loud failure listing what exists."""
    seen: list[str] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        elements: list[JSON] = []
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                elements.append(block[key])
        elements.extend(e for e in block.get("elements") or [] if isinstance(e, dict))
        for element in elements:
            if "action_id" in element:
                seen.append(str(element["action_id"]))
                if element["action_id"] == action_id:
                    return block, element
    raise PayloadError(f"no element with action_id {action_id!r}; available: {seen}")


def action_item(block: JSON, element: JSON, value: Any) -> JSON:
    """One entry of `actions` in a `block_actions` payload."""
    kind = str(element.get("type"))
    item: JSON = {
        "action_id": element.get("action_id"),
        "block_id": block.get("block_id", ""),
        "type": kind,
        "action_ts": f"{time.time():.6f}",
    }
    if kind in {"button", "workflow_button"}:
        item["text"] = element.get("text")
        if "value" in element:
            item["value"] = element["value"]
        if "style" in element:
            item["style"] = element["style"]
    elif kind == "overflow":
        item["selected_option"] = _option(element, value)
    else:
        state = element_state(element, value)
        state.pop("type")
        item.update(state)
        if "placeholder" in element:
            item["placeholder"] = element["placeholder"]
    return item
