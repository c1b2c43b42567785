"""views.open / push / update / publish: the modal state machine of SLACK_NOTES §5.

* `trigger_id` expires `trigger_ttl` (3 s) after it was sent and works once: `expired_trigger_id`,
  `exchanged_trigger_id`, `invalid_trigger_id` (format "132456.7890123.abcdef").
* A stack of at most 3 modals per user (`push_limit_reached`); `views.update` / `views.publish` compare
  `hash` only when sent (`hash_conflict`) and issue a new one on every change; unknown ids → `not_found`.
* Views over 250 kB → `view_too_large`; invalid views → `invalid_arguments` with `response_metadata`.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from sandbox.slack.blockkit import VIEW_MAX_BYTES
from sandbox.slack.methods import method
from sandbox.slack.state import JSON, SlackError, Trigger, View
from sandbox.slack.workspace import Args, Workspace

STACK_LIMIT = 3
_TRIGGER_FORMAT = re.compile(r"^\d+\.\d+\.[0-9a-zA-Z]+$")


def _view_arg(ws: Workspace, name: str, args: Args, kind: str) -> JSON:
    view: Any = args.json("view")
    if not isinstance(view, dict):
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] view must be an object [json-pointer:/view]"]},
        )
    if len(json.dumps(view)) > VIEW_MAX_BYTES:
        raise SlackError("view_too_large")
    ws.check_broadcast(name, view)
    ws.check_view(name, view)
    if view.get("type") != kind:
        ws.report(
            name, "invalid_view", f"view type {view.get('type')!r} where {kind!r} is expected"
        )
        raise SlackError(
            "invalid_arguments",
            response_metadata={
                "messages": [f"[ERROR] must be a {kind} view [json-pointer:/view/type]"]
            },
        )
    return view


def exchange_trigger(ws: Workspace, args: Args) -> Trigger:
    """Use a trigger once, within its lifetime."""
    trigger_id = args.str("trigger_id") or args.str("interactivity_pointer") or ""
    if not _TRIGGER_FORMAT.match(trigger_id):
        raise SlackError("invalid_trigger_id")
    trigger = ws.triggers.get(trigger_id)
    if trigger is None:
        raise SlackError("invalid_trigger_id")
    if trigger.used:
        raise SlackError("exchanged_trigger_id")
    if time.monotonic() - trigger.issued > ws.trigger_ttl:
        raise SlackError("expired_trigger_id")
    trigger.used = True
    return trigger


def _new_view(
    ws: Workspace, user_id: str, payload: JSON, *, root: str | None, previous: str | None
) -> View:
    view_id = ws.ids.make("V")
    view = View(
        id=view_id,
        user_id=user_id,
        payload=payload,
        hash=ws.ids.view_hash(),
        root_view_id=root or view_id,
        previous_view_id=previous,
    )
    ws.views[view_id] = view
    return view


@method("views.open")
def views_open(ws: Workspace, args: Args) -> JSON:
    payload = _view_arg(ws, "views.open", args, "modal")
    trigger = exchange_trigger(ws, args)
    ws.ensure_unique_external_id(payload)
    ws.close_views(trigger.user_id, all_views=True)
    view = _new_view(ws, trigger.user_id, payload, root=None, previous=None)
    ws.user_stack(trigger.user_id).append(view.id)
    return {"view": ws.view_json(view)}


@method("views.push")
def views_push(ws: Workspace, args: Args) -> JSON:
    payload = _view_arg(ws, "views.push", args, "modal")
    trigger = exchange_trigger(ws, args)
    stack = ws.user_stack(trigger.user_id)
    if not stack:
        raise SlackError("not_found")
    if len(stack) >= STACK_LIMIT:
        raise SlackError("push_limit_reached")
    ws.ensure_unique_external_id(payload)
    view = _new_view(ws, trigger.user_id, payload, root=stack[0], previous=stack[-1])
    stack.append(view.id)
    return {"view": ws.view_json(view)}


def _check_hash(view: View, args: Args) -> None:
    given = args.str("hash")
    if given and given != view.hash:
        raise SlackError("hash_conflict")


@method("views.update")
def views_update(ws: Workspace, args: Args) -> JSON:
    view = ws.find_view(args.str("view_id"), args.str("external_id"))
    payload = _view_arg(ws, "views.update", args, view.type)
    _check_hash(view, args)
    ws.ensure_unique_external_id(payload, except_view=view.id)
    view.payload = payload
    view.hash = ws.ids.view_hash()
    view.errors = {}
    return {"view": ws.view_json(view)}


@method("views.publish")
def views_publish(ws: Workspace, args: Args) -> JSON:
    if not ws.home_tab_enabled:
        raise SlackError("not_enabled")
    user_id = args.str("user_id") or ""
    if user_id not in ws.users:
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] invalid user_id [json-pointer:/user_id]"]},
        )
    payload = _view_arg(ws, "views.publish", args, "home")
    existing = ws.views.get(ws.home_views.get(user_id, ""))
    if existing is not None:
        _check_hash(existing, args)
        ws.ensure_unique_external_id(payload, except_view=existing.id)
        existing.payload = payload
        existing.hash = ws.ids.view_hash()
        return {"view": ws.view_json(existing)}
    ws.ensure_unique_external_id(payload)
    view = _new_view(ws, user_id, payload, root=None, previous=None)
    ws.home_views[user_id] = view.id
    return {"view": ws.view_json(view)}
