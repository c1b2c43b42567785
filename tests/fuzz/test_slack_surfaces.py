"""Hypothesis drives the real bot (the wired Bolt app over Socket Mode, against the Slack sandbox
and PostgreSQL) with what a person or a forged payload can send: any slash command text, every
modal submitted with random, over-long, missing and wrong-typed values, clicks carrying stale or
foreign ids, and events with fields missing.

For every example: Slack gets its ack in time, no listener fails (the error handler's
"listener failed" is never logged, nor any other ERROR), a person who typed a command is always
answered, and the database stays consistent (every incident has its ``declared`` entry, versions
never go back, every side effect belongs to an incident that exists).

One bot per test function; the examples run inside it, each on its own (views it opened are
closed, background work drained, logs cleared)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from bot.blocks.ids import ActionId, CallbackId
from sandbox.slack import SlackSandbox
from sandbox.slack.state import View
from storage import models
from tests.fuzz.strategies import BLOCK_IDS, elements, json_values, texts
from tests.workspace import Workspace, declare_and_wait, outbox_idle

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SUBCOMMANDS = (
    "open",
    "update",
    "status",
    "roles",
    "note",
    "timeline",
    "milestones",
    "close",
    "reopen",
    "convert",
    "list",
    "followup",
    "oncall",
    "page",
    "postmortem",
    "cost",
    "stats",
    "export",
    "help",
)
"""Every subcommand the help lists (PagerDuty, Jira and Confluence ones answer that they are off)."""

MODAL_SUBCOMMANDS = ("open", "update", "status", "roles", "note", "milestones", "close")
"""Subcommands that open a modal in an open incident's channel: their modals get fuzzed."""


class Surfaces:
    """The seeded workspace with one declared incident, and what every example checks."""

    def __init__(self, bot: Any, slack: SlackSandbox, ws: Workspace, channel: str) -> None:
        self.bot = bot
        self.slack = slack
        self.ws = ws
        self.incident_channel = channel
        self.general = slack.add_channel("general", members=[ws.alice, ws.bob], bot=True)
        self.versions: dict[int, int] = {}

    def channel(self, where: str) -> str | None:
        return {"incident": self.incident_channel, "general": self.general, "dm": None}[where]

    def feedback(self, user: str) -> int:
        """How much Slack has shown ``user`` so far: ephemerals, DMs, modals, channel posts."""
        posted = sum(len(self.slack.messages(c)) for c in (self.incident_channel, self.general))
        return (
            len(self.slack.ephemerals(user))
            + len(self.slack.dms(user))
            + len(self.slack.views(user))
            + posted
        )

    async def settle(self) -> None:
        await self.bot.background.drain()
        await outbox_idle()

    async def close_modals(self, user: str) -> None:
        while self.slack.ws.view_stacks.get(user):
            await self.slack.close_view(user)

    async def check(self, caplog: pytest.LogCaptureFixture) -> None:
        """No error logged, every ack in time, and the database consistent."""
        await self.settle()
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        caplog.clear()
        assert not errors, [(r.name, r.getMessage(), r.exc_text) for r in errors]
        assert self.slack.user_errors == []
        incidents = await models.Incident.all().values("id", "version")
        declared = set(
            await models.TimelineEntry.filter(kind="declared").values_list("incident_id", flat=True)
        )
        for row in incidents:
            assert row["id"] in declared, f"incident {row['id']} has no declared entry"
            assert row["version"] >= self.versions.get(row["id"], 0), "a version went back"
            self.versions[row["id"]] = row["version"]
        ids = {row["id"] for row in incidents}
        orphans = await models.OutboxItem.exclude(incident_id=None).exclude(incident_id__in=ids)
        assert orphans == []

    async def deliver(self, payload: dict[str, Any]) -> Any:
        """An interactive payload through Socket Mode; returns the ack's payload."""
        delivery = await self.slack.hub.deliver(
            "interactive", payload, accepts_response_payload=True
        )
        result = await self.slack.hub.wait_ack(delivery, 3.0)
        assert self.slack.hub.is_ack(result), f"not acked: {payload.get('type')}"
        return result


@pytest.fixture
async def surfaces(bot: Any, slack: SlackSandbox, ws: Workspace) -> Surfaces:
    incident = await declare_and_wait(bot, ws)
    assert incident.channel_id
    return Surfaces(bot, slack, ws, incident.channel_id)


command_texts = st.one_of(
    st.builds(
        lambda sub, rest: f"{sub} {rest}",
        st.sampled_from(SUBCOMMANDS) | st.sampled_from([s.upper() for s in SUBCOMMANDS]),
        texts | st.sampled_from(["#1", "#999999", "abc", "-3", "P1 now", "0", "1e309"]),
    ),
    st.text(max_size=80),
    st.text(min_size=2000, max_size=4000),
    st.just(""),
)


@FUZZ
@given(text=command_texts, where=st.sampled_from(["incident", "general", "dm"]))
@example(text="note " + "x" * 4000, where="incident")
@example(text="\u202e\u0000 open", where="general")
async def test_any_command_text_is_answered_and_breaks_nothing(
    surfaces: Surfaces, caplog: pytest.LogCaptureFixture, text: str, where: str
) -> None:
    slack, alice = surfaces.slack, surfaces.ws.alice
    before = surfaces.feedback(alice)
    ack = await slack.run_slash_command(alice, "/incident", text, surfaces.channel(where))
    assert ack.acked
    await slack.wait_for(lambda: surfaces.feedback(alice) > before, timeout=3.0)
    await surfaces.close_modals(alice)
    await surfaces.check(caplog)


def random_state(view: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """A state for the view's own input blocks, each left out or filled with any element state."""
    values: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        element = block.get("element")
        if block.get("type") != "input" or not isinstance(element, dict):
            continue
        if data.draw(st.booleans(), label=f"fill {block.get('block_id')}"):
            values[str(block["block_id"])] = {
                str(element.get("action_id")): data.draw(elements, label=str(block["block_id"]))
            }
    return values


@settings(FUZZ, max_examples=40)
@given(subcommand=st.sampled_from(MODAL_SUBCOMMANDS), data=st.data())
async def test_every_modal_submitted_with_random_values_is_refused_in_words_or_applied(
    surfaces: Surfaces, caplog: pytest.LogCaptureFixture, subcommand: str, data: st.DataObject
) -> None:
    slack, alice = surfaces.slack, surfaces.ws.alice
    await surfaces.settle()
    await surfaces.close_modals(alice)  # one a late background task may have opened
    await slack.run_slash_command(alice, "/incident", subcommand, surfaces.incident_channel)
    view = (await slack.wait_for(lambda: slack.views(alice), timeout=3.0))[-1]
    body = slack.ws.view_json(view)
    body["state"] = {"values": random_state(view.payload, data)}
    payload = slack.interactive_payload(
        "view_submission", alice, trigger_id=slack.ws.new_trigger(alice, view_id=view.id)
    )
    payload.update({"view": body, "response_urls": []})
    answer = await surfaces.deliver(payload)
    outcome = answer.get("response_action") if isinstance(answer, dict) else "closed"
    event(f"{subcommand}: {outcome}")
    if isinstance(answer, dict) and answer.get("response_action") == "errors":
        inputs = {
            b.get("block_id") for b in view.payload.get("blocks") or [] if b["type"] == "input"
        }
        assert answer["errors"] and set(answer["errors"]) <= inputs
    await surfaces.close_modals(alice)
    await surfaces.check(caplog)


PICKERS = (
    CallbackId.PICK_INCIDENT_MODAL,
    CallbackId.PICK_COST_INCIDENT_MODAL,
    CallbackId.PICK_FOLLOWUP_INCIDENT_MODAL,
    CallbackId.PICK_PAGE_INCIDENT_MODAL,
    CallbackId.PICK_POSTMORTEM_INCIDENT_MODAL,
)


def metadata_for(callback: str, incident: int, version: int, entry: int) -> dict[str, Any]:
    """What the builder of ``callback`` stores in ``private_metadata`` (its keys and types)."""
    if callback in PICKERS:
        return {"action": "note", "extra": {}}
    if callback == CallbackId.ADD_TO_TIMELINE_MODAL:
        return {"source": {"channel": "C0UNKNOWN", "ts": "1.000001"}}
    if callback == CallbackId.TIMELINE_EDIT_MODAL:
        return {"incident_id": incident, "entry_id": entry, "shown_at": 1_700_000_000}
    if callback == CallbackId.TIMELINE_STRIKE_MODAL:
        return {"incident_id": incident, "entry_id": entry}
    if callback == CallbackId.MILESTONES_MODAL:
        return {"incident_id": incident, "version": version, "shown": {}}
    if callback == CallbackId.MILESTONE_MODAL:
        return {"incident_id": incident, "version": version, "milestone": "detected_at"}
    if callback == CallbackId.FOLLOWUP_MODAL:
        return {"incident_id": incident, "channel": None}
    return {"incident_id": incident, "version": version}


@FUZZ
@given(
    callback=st.sampled_from(
        [*PICKERS, *(c for c in CallbackId if "modal" in c.value and c not in PICKERS)]
    ),
    values=st.dictionaries(
        st.sampled_from(BLOCK_IDS),
        st.builds(lambda element: {"a": element}, elements),
        max_size=6,
    ),
    stale=st.booleans(),
)
async def test_a_modal_submitted_with_stale_ids_and_random_values_breaks_nothing(
    surfaces: Surfaces,
    caplog: pytest.LogCaptureFixture,
    callback: str,
    values: dict[str, Any],
    stale: bool,
) -> None:
    """Every modal, open with the metadata its builder writes (for the declared incident and its
    first entry, or, ``stale``, for an incident and an entry that no longer exist), submitted
    with any values."""
    slack, alice = surfaces.slack, surfaces.ws.alice
    await surfaces.settle()
    await surfaces.close_modals(alice)
    incident = await models.Incident.get(channel_id=surfaces.incident_channel)
    entry = await models.TimelineEntry.filter(incident_id=incident.id).first()
    assert entry is not None
    metadata = metadata_for(
        callback,
        999_999 if stale else incident.id,
        incident.version,
        999_999 if stale else entry.id,
    )
    view_id = slack.ws.ids.make("V")
    slack.ws.views[view_id] = View(
        id=view_id,
        user_id=alice,
        payload={
            "type": "modal",
            "callback_id": callback,
            "title": {"type": "plain_text", "text": "Fuzz"},
            "private_metadata": json.dumps(metadata),
            "blocks": [
                {"type": "input", "block_id": b, "label": {"type": "plain_text", "text": b}}
                for b in values
            ],
        },
        hash=slack.ws.ids.view_hash(),
        root_view_id=view_id,
    )
    slack.ws.user_stack(alice).append(view_id)
    body = slack.ws.view_json(slack.ws.views[view_id])
    body["state"] = {"values": values}
    before = surfaces.feedback(alice)
    answer = await surfaces.deliver(
        {
            "type": "view_submission",
            "team": {"id": slack.team_id, "domain": "sandbox"},
            "user": {"id": alice, "team_id": slack.team_id},
            "api_app_id": slack.app_id,
            "token": "sandbox-verification-token",
            "trigger_id": slack.ws.new_trigger(alice, view_id=view_id),
            "view": body,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
    )
    refers_to_incident = callback not in (*PICKERS, CallbackId.ADD_TO_TIMELINE_MODAL)
    if stale and refers_to_incident and not answer:
        # The modal closed on an incident that does not exist: the user is told why.
        await slack.wait_for(lambda: surfaces.feedback(alice) > before, timeout=3.0)
    event(f"{'stale' if stale else 'live'}: {(answer or {}).get('response_action', 'closed')}")
    await surfaces.close_modals(alice)
    await surfaces.check(caplog)


NOT_SENT = {
    ActionId.HOME_OPEN_CHANNEL,
    ActionId.HELP_OPEN_HOME,
    ActionId.CONVERT_ACCEPT,
    ActionId.DECLARE_OVERRIDE,
    ActionId.FIX,
}
"""Ids Slack never sends as they are: no builder uses the first three, the override is an input
without ``dispatch_action``, and a fix button's id carries its index (``incident.fix.<n>``)."""
ACTION_IDS = (
    *(a.value for a in ActionId if a not in NOT_SENT),
    f"{ActionId.FIX}.0",
    f"{ActionId.FIX}.7",
)
stale_values = st.one_of(
    st.builds(
        lambda i, kind: f"{i}:{kind}",
        st.sampled_from([0, -1, 999_999, 2**40]) | st.integers(),
        st.sampled_from(["update", "status", "close", "note", "channel", "x", "update_due", ""]),
    ),
    st.sampled_from(["abc", "", ":", "T0FOREIGN:1", "C0FOREIGN", "edit:999999", "strike:abc"]),
    texts,
)


@FUZZ
@given(
    action_id=st.sampled_from(ACTION_IDS),
    value=stale_values,
    kind=st.sampled_from(["button", "overflow", "static_select"]),
    where=st.sampled_from(["incident", "general"]),
)
@example(action_id=ActionId.DECLARE_IMPACT.value, value="abc", kind="button", where="incident")
@example(action_id=ActionId.OPEN_MODAL.value, value="999999:update", kind="button", where="general")
@example(action_id=ActionId.REMINDER_SNOOZE.value, value="abc", kind="button", where="incident")
@example(
    action_id=ActionId.DECLARE_JOIN_EXISTING.value, value="abc", kind="button", where="general"
)
@example(action_id=ActionId.TIMELINE_ENTRY.value, value="edit:x", kind="overflow", where="incident")
async def test_a_click_with_a_stale_or_foreign_id_breaks_nothing(
    surfaces: Surfaces,
    caplog: pytest.LogCaptureFixture,
    action_id: str,
    value: str,
    kind: str,
    where: str,
) -> None:
    slack, alice = surfaces.slack, surfaces.ws.alice
    channel = surfaces.channel(where)
    assert channel is not None
    ts = await slack.post_message(alice, channel, "a message with a button")
    action: dict[str, Any] = {
        "type": kind,
        "action_id": action_id,
        "block_id": "fuzz",
        "action_ts": f"{time.time():.6f}",
    }
    if kind == "button":
        action["value"] = value
    else:
        action["selected_option"] = {"text": {"type": "plain_text", "text": "x"}, "value": value}
    payload = slack.interactive_payload("block_actions", alice)
    payload.update(
        {
            "container": {"type": "message", "message_ts": ts, "channel_id": channel},
            "channel": {"id": channel, "name": "fuzz"},
            "message": {"type": "message", "ts": ts, "text": "x", "blocks": []},
            "state": {"values": {}},
            "response_url": slack.new_response_url(alice, channel, ts),
            "actions": [action],
        }
    )
    await surfaces.deliver(payload)
    await surfaces.close_modals(alice)
    await surfaces.check(caplog)


def _maybe(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


_users = st.sampled_from(["<alice>", "<bob>", "U0UNKNOWN", ""]) | st.none()
_channels = st.sampled_from(["<incident>", "<general>", "C0UNKNOWN", ""]) | st.none()
_tss = st.sampled_from(["1.000001", "abc", ""]) | st.none()
_item = _maybe({"type": st.just("message"), "channel": _channels, "ts": _tss}) | json_values

events: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.builds(
        lambda kind, rest: {"type": kind, **rest},
        st.sampled_from(["reaction_added", "reaction_removed"]),
        _maybe({"user": _users, "reaction": st.sampled_from(["pushpin", "x"]), "item": _item}),
    ),
    st.builds(
        lambda kind, rest: {"type": kind, **rest},
        st.sampled_from(["member_joined_channel", "member_left_channel"]),
        _maybe({"user": _users, "channel": _channels, "channel_type": st.just("C")}),
    ),
    st.builds(
        lambda subtype, rest: {"type": "message", "subtype": subtype, **rest},
        st.sampled_from(["message_changed", "message_deleted"]),
        _maybe(
            {
                "channel": _channels,
                "message": json_values | _maybe({"ts": _tss, "text": texts, "user": _users}),
                "previous_message": json_values | _maybe({"ts": _tss, "text": texts}),
                "deleted_ts": _tss,
                "ts": _tss,
            }
        ),
    ),
    st.builds(
        lambda rest: {"type": "message", **rest},
        _maybe({"channel": _channels, "user": _users, "text": texts, "ts": _tss}),
    ),
    st.builds(
        lambda rest: {"type": "app_home_opened", **rest},
        _maybe({"user": _users, "tab": st.sampled_from(["home", "messages"]), "view": json_values}),
    ),
    st.builds(
        lambda kind, rest: {"type": kind, **rest},
        st.sampled_from(["channel_archive", "channel_rename", "channel_deleted", "tokens_revoked"]),
        _maybe({"channel": _channels | json_values, "user": _users}),
    ),
)
"""Events the bot listens to (and some it does not), any field missing or of the wrong type;
``<alice>``, ``<incident>``… stand for the seeded user and channel ids."""


def resolved(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, dict):
        return {k: resolved(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [resolved(v, names) for v in value]
    return value


@FUZZ
@given(event=events)
@example(event={"type": "app_home_opened"})
@example(event={"type": "app_home_opened", "user": "<alice>", "view": {"type": "home"}})
@example(event={"type": "app_home_opened", "user": "<alice>", "view": {"private_metadata": 5}})
@example(event={"type": "reaction_added", "user": "<alice>", "reaction": "pushpin"})
@example(event={"type": "message", "subtype": "message_changed", "message": True})
@example(event={"type": "message", "subtype": "message_deleted", "previous_message": [1]})
@example(event={"type": "reaction_added", "user": "<alice>", "reaction": "pushpin", "item": []})
@example(event={"type": "message", "subtype": "message_changed", "channel": "<incident>"})
@example(event={"type": "member_joined_channel", "user": "<bob>", "channel": "C0UNKNOWN"})
async def test_an_event_with_fields_missing_breaks_nothing(
    surfaces: Surfaces, caplog: pytest.LogCaptureFixture, event: dict[str, Any]
) -> None:
    ws = surfaces.ws
    names = {
        "<alice>": ws.alice,
        "<bob>": ws.bob,
        "<incident>": surfaces.incident_channel,
        "<general>": surfaces.general,
    }
    sent = resolved(event, names)
    sent.setdefault("event_ts", f"{time.time():.6f}")
    delivery = await surfaces.slack.send_event(sent)
    assert surfaces.slack.hub.is_ack(await surfaces.slack.hub.wait_ack(delivery, 3.0))
    await surfaces.check(caplog)
