"""The modals that work on an existing incident: valid Block Kit in every state, snapshots, and round
trips build → Slack-shaped ``state.values`` → parse, with each bad input reported on its block."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.blocks.home import PriorityStyle
from bot.blocks.ids import ActionId, BlockId, CallbackId
from bot.blocks.manage import (
    CONFLICT_TEXT,
    CloseChoice,
    FormInvalid,
    IncidentChanges,
    PickerChoice,
    ReopenChoice,
    StatusChoice,
    TimelineAddition,
    add_to_timeline_modal,
    close_modal,
    conflict_view,
    convert_modal,
    fix_label,
    incident_picker_modal,
    modal_context,
    note_modal,
    parse_add_to_timeline,
    parse_close,
    parse_convert,
    parse_note,
    parse_picker,
    parse_reopen,
    parse_roles,
    parse_status,
    parse_update,
    refusal_form_errors,
    refusal_message,
    reopen_modal,
    roles_modal,
    status_modal,
    update_modal,
)
from bot.config import Catalog, Category, CustomField, Group, Role
from bot.domain.errors import UserFacingError
from bot.domain.incident import (
    ClosureReason,
    Incident,
    JsonValue,
    Milestone,
    Milestones,
    Priority,
    ResponseType,
    Status,
)
from bot.domain.lifecycle import (
    Fix,
    LifecycleRules,
    Reason,
    TransitionRefused,
    allowed_targets,
    close_blockers,
)
from sandbox.slack.blockkit import BlockKitChecker
from sandbox.slack.payloads import VALUE_FIELD, element_state, input_elements

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
STYLES = {
    Priority.P1: PriorityStyle(":red_circle:", "Critical"),
    Priority.P2: PriorityStyle(":large_orange_circle:", "High"),
    Priority.P3: PriorityStyle("", "Medium"),
    Priority.P4: PriorityStyle("", "Low"),
    Priority.P5: PriorityStyle("", "Minor"),
}
HOSTILE = "Checkout down <!channel> ask <@U1> & <https://evil.example|bank>"

CATALOG = Catalog(
    groups=[Group(key="shop", name="Shop & payments"), Group(key="platform", name="Platform")],
    categories=[
        Category(key="checkout", name="Checkout", group="shop", description="Cart and payment"),
        Category(key="search", name="Search", group="shop"),
        Category(key="database", name="Database", group="platform"),
    ],
    roles=[Role(key="scribe", name="Scribe", duties="Keeps the timeline complete.")],
    custom_fields=[
        CustomField(key="ticket", label="Support ticket", type="text"),
        CustomField(
            key="region", label="Region", type="select", options=["EU", "US", "APAC"], required=True
        ),
        CustomField(key="brands", label="Brands", type="multi_select", options=["Acme", "Globex"]),
        CustomField(key="owner", label="Business owner", type="user"),
        CustomField(key="orders_lost", label="Orders lost", type="number", min=0, max=100000),
        CustomField(key="exec_sponsor", label="Exec sponsor", type="user", priorities=["P1"]),
    ],
)


def incident(
    n: int = 12,
    *,
    title: str = "Checkout down for card payments",
    priority: Priority = Priority.P2,
    status: Status = Status.INVESTIGATING,
    version: int = 3,
    response_type: ResponseType = ResponseType.CRITICAL,
    custom_fields: Mapping[str, JsonValue] | None = None,
) -> Incident:
    return Incident(
        id=n,
        title=title,
        summary="Customers get a 500 error when paying by card.",
        priority=priority,
        category="checkout",
        environments=("PRD", "STG"),
        status=status,
        created_by="U1",
        created_at=NOW - timedelta(hours=2),
        updated_at=NOW,
        response_type=response_type,
        custom_fields=custom_fields
        if custom_fields is not None
        else {
            "ticket": "SUP-123",
            "region": "EU",
            "brands": ["Acme"],
            "owner": "U0OWNER",
            "orders_lost": 42,
        },
        channel_id="C012",
        milestones=Milestones(declared_at=NOW - timedelta(hours=2)),
        version=version,
    )


def blockers_of(inc: Incident) -> list[Reason]:
    return close_blockers(inc, LifecycleRules(postmortem_required=True), postmortem_ready=False)


def plain_json(view: Any) -> Any:
    """What goes over the wire (StrEnum ids become plain strings)."""
    return json.loads(json.dumps(view))


CLEAR = object()
"""A filled value meaning: the user emptied this input."""


def submitted(view: Mapping[str, Any], filled: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``view`` of a ``view_submission``: untouched inputs submit their initial value, as in
    Slack's client; ``filled`` maps block ids to what the user typed or picked (option values,
    user ids, number as typed)."""
    filled = filled or {}
    values: dict[str, dict[str, Any]] = {}
    for block_id, _block, element in input_elements(plain_json(view)["blocks"]):
        wanted = filled.get(block_id)
        if wanted is CLEAR:
            kind = element["type"]
            field = VALUE_FIELD[kind]
            state = {"type": kind, field: [] if field == "selected_options" else None}
        else:
            state = element_state(element, wanted)
        values.setdefault(block_id, {})[element["action_id"]] = state
    unknown = set(filled) - set(values)
    assert not unknown, f"no input {unknown} in the view"
    return {**plain_json(view), "id": "V1", "hash": "1.2", "state": {"values": values}}


def form_errors(parse: Any, view: Mapping[str, Any], *args: Any) -> dict[str, str]:
    with pytest.raises(FormInvalid) as caught:
        parse(view, *args)
    assert isinstance(caught.value, UserFacingError)
    return caught.value.errors


def mrkdwn_texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from mrkdwn_texts(item)


def many(count: int) -> list[Incident]:
    return [
        incident(n, title=f"Incident number {n} with a long title " + "x" * 100)
        for n in range(1, count + 1)
    ]


# ---------------------------------------------------------------------------------------------------
# Every view is valid Block Kit
# ---------------------------------------------------------------------------------------------------

VIEWS = {
    "update": lambda: update_modal(incident(), CATALOG, styles=STYLES),
    "update_p1_no_fields": lambda: update_modal(
        incident(priority=Priority.P1, custom_fields={}), CATALOG, styles=STYLES
    ),
    "update_default_catalog_hostile": lambda: update_modal(
        incident(title=HOSTILE), CATALOG, styles={}
    ),
    "status": lambda: status_modal(
        incident(status=Status.MITIGATED),
        allowed_targets(
            incident(status=Status.MITIGATED), LifecycleRules(postmortem_required=True)
        ),
    ),
    "status_none": lambda: status_modal(incident(status=Status.CLOSED), []),
    "roles": lambda: roles_modal(incident(), CATALOG, {"commander": "U0CMD", "scribe": "bad id"}),
    "close_blocked": lambda: close_modal(incident(), blockers_of(incident())),
    "close_many_blockers": lambda: close_modal(
        incident(), [Reason(f"Reason {i}", Fix.MITIGATE_FIRST) for i in range(120)]
    ),
    "close_ready": lambda: close_modal(incident(status=Status.MITIGATED), []),
    "reopen_mitigated": lambda: reopen_modal(incident(status=Status.MITIGATED)),
    "reopen_closed": lambda: reopen_modal(incident(status=Status.CLOSED)),
    "reopen_open": lambda: reopen_modal(incident(status=Status.INVESTIGATING)),
    "convert": lambda: convert_modal(incident(priority=Priority.P4)),
    "convert_not_lowered": lambda: convert_modal(incident(priority=Priority.P2)),
    "note": lambda: note_modal(incident(title=HOSTILE)),
    "picker_100": lambda: incident_picker_modal(
        many(100), action="note", styles=STYLES, prompt="Add a note to which incident?"
    ),
    "picker_250": lambda: incident_picker_modal(
        many(250), action="close", styles=STYLES, prompt="Close which incident?"
    ),
    "picker_empty": lambda: incident_picker_modal(
        [], action="close", styles=STYLES, prompt="Close which incident?"
    ),
    "timeline": lambda: add_to_timeline_modal(
        many(120),
        preselected=120,
        message_text="y" * 5000,
        source={"channel_id": "C1", "ts": "1.2", "permalink": "https://x.slack.com/p1"},
    ),
    "timeline_empty": lambda: add_to_timeline_modal(
        [], preselected=None, message_text="hi", source={}
    ),
    "conflict": lambda: conflict_view("update", update_modal(incident(), CATALOG, styles=STYLES)),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_every_manage_view_passes_slack_block_kit_checks(name: str) -> None:
    view = plain_json(VIEWS[name]())
    assert BlockKitChecker().check_view(view) == []
    assert len(view["private_metadata"]) <= 3000


def test_the_picker_lists_at_most_100_incidents_with_short_option_texts() -> None:
    view = incident_picker_modal(many(250), action="close", styles=STYLES, prompt="Close which?")
    select = next(b for b in view["blocks"] if b.get("block_id") == BlockId.PICK_INCIDENT)
    options = select["element"]["options"]
    assert len(options) == 100
    assert all(len(o["text"]["text"]) <= 75 for o in options)
    assert options[0]["text"]["text"].startswith("#1 P2 Incident number 1 with a long title")
    assert options[0]["text"]["text"].endswith("…")
    assert options[0]["description"]["text"] == "High · Investigating"
    assert "Showing 100 of 250" in view["blocks"][-1]["elements"][0]["text"]


# ---------------------------------------------------------------------------------------------------
# Snapshots of meaningful states
# ---------------------------------------------------------------------------------------------------


def test_update_modal_snapshot(snapshot) -> None:
    assert plain_json(update_modal(incident(), CATALOG, styles=STYLES)) == snapshot


def test_close_modal_with_blockers_snapshot(snapshot) -> None:
    inc = incident()
    assert plain_json(close_modal(inc, blockers_of(inc))) == snapshot


def test_status_modal_from_mitigated_snapshot(snapshot) -> None:
    inc = incident(status=Status.MITIGATED)
    targets = allowed_targets(inc, LifecycleRules(postmortem_required=True))
    assert plain_json(status_modal(inc, targets)) == snapshot


def test_incident_picker_snapshot(snapshot) -> None:
    incidents = [
        incident(3, priority=Priority.P1, title="Payments API returns 502"),
        incident(7, status=Status.MITIGATING),
    ]
    view = incident_picker_modal(
        incidents,
        action="pin",
        styles=STYLES,
        prompt="Pin the message to which incident?",
        extra={"channel_id": "C9", "ts": "1700000000.000100"},
    )
    assert plain_json(view) == snapshot


# ---------------------------------------------------------------------------------------------------
# Metadata and conflicts
# ---------------------------------------------------------------------------------------------------


def test_every_incident_modal_carries_the_incident_and_its_version() -> None:
    inc = incident(version=7)
    for view in (
        update_modal(inc, CATALOG, styles=STYLES),
        status_modal(inc, [Status.MITIGATED]),
        roles_modal(inc, CATALOG, {}),
        close_modal(inc, []),
        reopen_modal(incident(status=Status.CLOSED, version=7)),
        convert_modal(inc),
        note_modal(inc),
    ):
        context = modal_context(submitted(view))
        assert (context.incident_id, context.version) == (12, 7)
    assert parse_convert(submitted(convert_modal(incident(priority=Priority.P5)))).version == 3


def test_a_view_that_is_not_ours_has_no_modal_context() -> None:
    with pytest.raises(ValueError):
        modal_context({"private_metadata": '{"action": "close"}'})
    with pytest.raises(ValueError):
        modal_context({"private_metadata": "not json"})


def test_metadata_too_large_for_slack_is_refused_when_building() -> None:
    with pytest.raises(ValueError, match="private_metadata"):
        incident_picker_modal(
            [incident()], action="pin", styles=STYLES, prompt="?", extra={"text": "x" * 3000}
        )


def test_a_stale_submission_gets_the_fresh_view_with_a_warning_on_top() -> None:
    fresh = update_modal(
        incident(version=4, title="Checkout down for every payment"), CATALOG, styles=STYLES
    )
    view = conflict_view("update", fresh)
    assert view["blocks"][0]["text"]["text"] == CONFLICT_TEXT
    assert "changed while you were editing" in CONFLICT_TEXT
    assert view["blocks"][1:] == fresh["blocks"]
    assert modal_context(view).version == 4
    assert view["callback_id"] == CallbackId.UPDATE_MODAL
    assert conflict_view("update", view)["blocks"] == view["blocks"]  # warned once only
    with pytest.raises(ValueError):
        conflict_view("close", fresh)
    with pytest.raises(ValueError):
        conflict_view("teleport", fresh)


# ---------------------------------------------------------------------------------------------------
# 1. Update
# ---------------------------------------------------------------------------------------------------


def test_an_untouched_update_modal_parses_back_to_the_incident() -> None:
    inc = incident()
    changes = parse_update(submitted(update_modal(inc, CATALOG, styles=STYLES)), CATALOG)
    assert changes == IncidentChanges(
        title=inc.title,
        summary=inc.summary,
        category="checkout",
        environments=("PRD", "STG"),
        custom_fields={
            "ticket": "SUP-123",
            "region": "EU",
            "brands": ["Acme"],
            "owner": "U0OWNER",
            "orders_lost": 42,
        },
        priority=Priority.P2,
        priority_reason=None,
    )


def test_update_shows_only_the_custom_fields_of_the_incidents_priority() -> None:
    def fields(priority: Priority) -> set[str]:
        view = update_modal(incident(priority=priority), CATALOG, styles=STYLES)
        return {
            b["block_id"]
            for b in view["blocks"]
            if b.get("block_id", "").startswith(BlockId.CUSTOM_FIELD_PREFIX)
        }

    assert "field.exec_sponsor" not in fields(Priority.P2)
    assert "field.exec_sponsor" in fields(Priority.P1)


def test_update_changes_come_back_as_the_new_values() -> None:
    view = update_modal(incident(), CATALOG, styles=STYLES)
    changes = parse_update(
        submitted(
            view,
            {
                BlockId.UPDATE_TITLE: "  Checkout down for every payment  ",
                BlockId.UPDATE_CATEGORY: "database",
                BlockId.UPDATE_ENVIRONMENTS: ["STG", "PRD"],
                BlockId.UPDATE_PRIORITY: "P1",
                BlockId.UPDATE_PRIORITY_REASON: "All card payments fail now",
                "field.ticket": CLEAR,
                "field.region": "APAC",
                "field.brands": ["Acme", "Globex"],
                "field.owner": "U0OTHER",
                "field.orders_lost": "1500",
            },
        ),
        CATALOG,
    )
    assert changes.title == "Checkout down for every payment"
    assert changes.category == "database"
    assert changes.environments == ("STG", "PRD")
    assert changes.priority is Priority.P1
    assert changes.priority_reason == "All card payments fail now"
    assert changes.custom_fields == {
        "ticket": None,
        "region": "APAC",
        "brands": ["Acme", "Globex"],
        "owner": "U0OTHER",
        "orders_lost": 1500,
    }


def test_update_reads_slacks_real_state_shape() -> None:
    view = plain_json(update_modal(incident(), CATALOG, styles=STYLES))
    view["state"] = {
        "values": {
            "update.title": {
                "update.title": {"type": "plain_text_input", "value": "Search is very slow"}
            },
            "update.summary": {
                "update.summary": {"type": "plain_text_input", "value": "Search takes 30 s."}
            },
            "update.category": {
                "update.category": {
                    "type": "static_select",
                    "selected_option": {
                        "text": {"type": "plain_text", "text": "Search", "emoji": True},
                        "value": "search",
                    },
                }
            },
            "update.environments": {
                "update.environments": {
                    "type": "multi_static_select",
                    "selected_options": [
                        {"text": {"type": "plain_text", "text": "Production"}, "value": "PRD"}
                    ],
                }
            },
            "update.priority": {
                "update.priority": {
                    "type": "static_select",
                    "selected_option": {
                        "text": {"type": "plain_text", "text": "P3"},
                        "value": "P3",
                    },
                }
            },
            "update.priority_reason": {
                "update.priority_reason": {"type": "plain_text_input", "value": None}
            },
            "field.region": {
                "field.region": {
                    "type": "static_select",
                    "selected_option": {
                        "text": {"type": "plain_text", "text": "US"},
                        "value": "US",
                    },
                }
            },
            "field.owner": {"field.owner": {"type": "users_select", "selected_user": None}},
            "field.orders_lost": {"field.orders_lost": {"type": "number_input", "value": "0"}},
        }
    }
    changes = parse_update(view, CATALOG)
    assert (changes.title, changes.category, changes.environments) == (
        "Search is very slow",
        "search",
        ("PRD",),
    )
    assert changes.priority is Priority.P3
    assert changes.custom_fields == {"region": "US", "owner": None, "orders_lost": 0}


@pytest.mark.parametrize(
    ("filled", "block_id", "message"),
    [
        ({BlockId.UPDATE_TITLE: "Too short"}, BlockId.UPDATE_TITLE, "at least 10"),
        ({BlockId.UPDATE_TITLE: "t" * 129}, BlockId.UPDATE_TITLE, "at most 128"),
        ({BlockId.UPDATE_SUMMARY: "   short  "}, BlockId.UPDATE_SUMMARY, "at least 10"),
        ({BlockId.UPDATE_SUMMARY: "s" * 1201}, BlockId.UPDATE_SUMMARY, "at most 1200"),
        ({BlockId.UPDATE_ENVIRONMENTS: CLEAR}, BlockId.UPDATE_ENVIRONMENTS, "at least one"),
        ({"field.orders_lost": "-3"}, "field.orders_lost", "at least 0"),
        ({"field.orders_lost": "2.5"}, "field.orders_lost", "whole number"),
        ({"field.region": CLEAR}, "field.region", "required"),
    ],
)
def test_bad_update_inputs_are_reported_on_their_block(
    filled: dict[str, Any], block_id: str, message: str
) -> None:
    view = update_modal(incident(), CATALOG, styles=STYLES)
    errors = form_errors(parse_update, submitted(view, filled), CATALOG)
    assert list(errors) == [block_id]
    assert message in errors[block_id]


def test_an_unknown_category_or_environment_is_refused() -> None:
    view = submitted(update_modal(incident(), CATALOG, styles=STYLES))
    values = view["state"]["values"]
    values["update.category"]["update.category"]["selected_option"]["value"] = "gone"
    values["update.environments"]["update.environments"]["selected_options"][0]["value"] = "MARS"
    errors = form_errors(parse_update, view, CATALOG)
    assert set(errors) == {BlockId.UPDATE_CATEGORY, BlockId.UPDATE_ENVIRONMENTS}


# ---------------------------------------------------------------------------------------------------
# 2. Status
# ---------------------------------------------------------------------------------------------------


def test_status_offers_the_allowed_targets_and_reads_the_choice() -> None:
    inc = incident(status=Status.MITIGATED)
    targets = allowed_targets(inc, LifecycleRules())
    view = status_modal(inc, targets)
    radio = next(b for b in view["blocks"] if b.get("block_id") == BlockId.STATUS)["element"]
    assert [o["value"] for o in radio["options"]] == [t.value for t in targets]
    choice = parse_status(
        submitted(
            view,
            {BlockId.STATUS: "investigating", BlockId.JUSTIFICATION: " The errors came back "},
        )
    )
    assert choice == StatusChoice(Status.INVESTIGATING, "The errors came back")
    assert parse_status(submitted(view, {BlockId.STATUS: "closed"})) == StatusChoice(
        Status.CLOSED, None
    )


def test_status_without_a_choice_is_reported_on_the_status_block() -> None:
    view = status_modal(incident(), [Status.MITIGATING, Status.MITIGATED])
    assert set(form_errors(parse_status, submitted(view))) == {BlockId.STATUS}


def test_a_status_with_no_possible_move_has_no_submit_button() -> None:
    view = status_modal(incident(status=Status.CLOSED), [])
    assert "submit" not in view


# ---------------------------------------------------------------------------------------------------
# 3. Roles
# ---------------------------------------------------------------------------------------------------


def test_roles_preselect_the_holders_and_read_the_new_ones() -> None:
    view = roles_modal(incident(), CATALOG, {"commander": "U0CMD", "scribe": "U0SCRIBE"})
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert [k for k in blocks if k and k.startswith(BlockId.ROLE_PREFIX)] == [
        "role.commander",
        "role.communications_lead",
        "role.scribe",
    ]
    assert blocks["role.commander"]["optional"] is False
    assert blocks["role.scribe"]["optional"] is True
    assert blocks["role.scribe"]["hint"]["text"] == "Keeps the timeline complete."
    assert blocks["role.commander"]["element"]["initial_user"] == "U0CMD"
    roles = parse_roles(submitted(view, {"role.communications_lead": "U0COMMS"}))
    assert roles == {"commander": "U0CMD", "communications_lead": "U0COMMS", "scribe": "U0SCRIBE"}


def test_the_commander_cannot_be_left_empty() -> None:
    view = roles_modal(incident(), CATALOG, {"commander": "U0CMD"})
    errors = form_errors(parse_roles, submitted(view, {"role.commander": CLEAR}))
    assert list(errors) == ["role.commander"]


# ---------------------------------------------------------------------------------------------------
# 4. Close and refusals
# ---------------------------------------------------------------------------------------------------


def test_close_blockers_get_one_fix_button_each() -> None:
    inc = incident()
    blockers = blockers_of(inc)
    view = close_modal(inc, blockers)
    assert view["blocks"][1]["text"]["text"] == "*#12 cannot be closed yet:*"
    buttons = [b["accessory"] for b in view["blocks"] if "accessory" in b]
    assert [b["value"] for b in buttons] == [f"12:{r.fix}" for r in blockers]
    assert [b["action_id"] for b in buttons] == [f"{ActionId.FIX}.{i}" for i in range(len(buttons))]
    assert "Set Impact started" in [b["text"]["text"] for b in buttons]
    reason_input = next(b for b in view["blocks"] if b.get("block_id") == BlockId.CLOSURE_REASON)
    assert reason_input["optional"] is False
    assert [o["value"] for o in reason_input["element"]["options"]] == [
        r.value for r in ClosureReason
    ]


def test_closing_early_as_a_duplicate_normalizes_the_kept_incident() -> None:
    view = close_modal(incident(), blockers_of(incident()))
    choice = parse_close(
        submitted(
            view,
            {
                BlockId.CLOSURE_REASON: "duplicate",
                BlockId.CLOSURE_REFERENCE: " 123 ",
                BlockId.JUSTIFICATION: "Same outage as #123",
            },
        )
    )
    assert choice == CloseChoice(ClosureReason.DUPLICATE, "#123", "Same outage as #123")


def test_closing_a_ready_incident_needs_nothing_more() -> None:
    view = close_modal(incident(status=Status.MITIGATED), [])
    reason_input = next(b for b in view["blocks"] if b.get("block_id") == BlockId.CLOSURE_REASON)
    assert reason_input["optional"] is True
    assert view["submit"]["text"] == "Close incident"
    assert parse_close(submitted(view)) == CloseChoice(None, None, None)
    false_alarm = parse_close(submitted(view, {BlockId.CLOSURE_REASON: "false_alarm"}))
    assert false_alarm.closure_reason is ClosureReason.FALSE_ALARM


@pytest.mark.parametrize(
    ("blocked", "filled", "block_id", "message"),
    [
        (True, {}, BlockId.CLOSURE_REASON, "close early"),
        (True, {BlockId.CLOSURE_REASON: "duplicate"}, BlockId.CLOSURE_REFERENCE, "#123"),
        (
            True,
            {BlockId.CLOSURE_REASON: "duplicate", BlockId.CLOSURE_REFERENCE: "the other one"},
            BlockId.CLOSURE_REFERENCE,
            "#123",
        ),
        (
            False,
            {BlockId.CLOSURE_REASON: "duplicate", BlockId.CLOSURE_REFERENCE: "#12"},
            BlockId.CLOSURE_REFERENCE,
            "itself",
        ),
        (False, {BlockId.CLOSURE_REFERENCE: "#99"}, BlockId.CLOSURE_REFERENCE, "early-closure"),
    ],
)
def test_bad_close_inputs_are_reported_on_their_block(
    blocked: bool, filled: dict[str, Any], block_id: str, message: str
) -> None:
    inc = incident(status=Status.MITIGATED)
    view = close_modal(inc, blockers_of(incident()) if blocked else [])
    errors = form_errors(parse_close, submitted(view, filled))
    assert list(errors) == [block_id]
    assert message in errors[block_id]


def test_a_refusal_outside_the_modal_lists_reasons_with_fix_buttons() -> None:
    inc = incident(title=HOSTILE)
    refused = TransitionRefused(blockers_of(inc))
    message = refusal_message(inc, refused)
    assert message["response_type"] == "ephemeral"
    assert BlockKitChecker().check_message_blocks(plain_json(message["blocks"])) == []
    assert message["blocks"][0]["text"]["text"] == ":no_entry: *#12 cannot be closed yet:*"
    fixes = [b["accessory"]["value"] for b in message["blocks"] if "accessory" in b]
    assert fixes == [f"12:{fix}" for fix in refused.fixes]
    early = message["blocks"][-1]["elements"][0]
    assert (early["action_id"], early["value"]) == (ActionId.OPEN_MODAL, "12:close")


def test_a_refusal_with_many_reasons_stays_within_the_message_limit() -> None:
    refused = TransitionRefused([Reason(f"Reason {i}", Fix.MITIGATE_FIRST) for i in range(80)])
    message = refusal_message(incident(), refused)
    assert BlockKitChecker().check_message_blocks(plain_json(message["blocks"])) == []


def test_refusals_a_form_can_fix_map_to_its_blocks() -> None:
    short = TransitionRefused([Reason("Say why you reopen #12.", Fix.ADD_JUSTIFICATION)])
    assert refusal_form_errors(short) == {BlockId.JUSTIFICATION: "Say why you reopen #12."}
    mixed = TransitionRefused(
        [Reason("Only the commander can reopen it."), Reason("Say why.", Fix.ADD_JUSTIFICATION)]
    )
    assert refusal_form_errors(mixed) == {}
    assert refusal_message(incident(), mixed)["blocks"][0]["text"]["text"] == (
        ":no_entry: *#12: this is not possible yet.*"
    )


def test_fix_labels_name_the_milestone() -> None:
    assert fix_label(Fix.set_milestone(Milestone.DETECTED)) == "Set Detected"
    assert fix_label(Fix.MARK_POSTMORTEM_READY) == "Mark post-mortem ready"


# ---------------------------------------------------------------------------------------------------
# 5-7. Reopen, convert, note
# ---------------------------------------------------------------------------------------------------


def test_reopening_from_mitigated_defaults_to_investigating_and_allows_mitigating() -> None:
    view = reopen_modal(incident(status=Status.MITIGATED))
    justification = {BlockId.JUSTIFICATION: "Errors are back on EU"}
    assert parse_reopen(submitted(view, justification)) == ReopenChoice(
        Status.INVESTIGATING, "Errors are back on EU"
    )
    choice = parse_reopen(submitted(view, {**justification, BlockId.STATUS: "mitigating"}))
    assert choice.status is Status.MITIGATING


def test_reopening_a_closed_incident_goes_back_to_investigating_only() -> None:
    view = reopen_modal(incident(status=Status.CLOSED))
    assert all(b.get("block_id") != BlockId.STATUS for b in view["blocks"])
    choice = parse_reopen(submitted(view, {BlockId.JUSTIFICATION: "The fix was reverted"}))
    assert choice == ReopenChoice(Status.INVESTIGATING, "The fix was reverted")


def test_a_short_reopen_justification_says_how_long_it_must_be() -> None:
    view = reopen_modal(incident(status=Status.MITIGATED))
    errors = form_errors(parse_reopen, submitted(view, {BlockId.JUSTIFICATION: " again  "}))
    assert errors == {
        BlockId.JUSTIFICATION: "Say why you reopen it, in at least 10 characters (5 given)."
    }


def test_an_open_incident_has_nothing_to_reopen() -> None:
    assert "submit" not in reopen_modal(incident(status=Status.MITIGATING))


def test_convert_explains_what_happens_only_for_a_lowered_critical_incident() -> None:
    view = convert_modal(incident(priority=Priority.P4))
    assert (
        "The channel is archived, the Jira ticket stays open" in view["blocks"][1]["text"]["text"]
    )
    assert view["submit"]["text"] == "Convert"
    assert "submit" not in convert_modal(incident(priority=Priority.P3))
    normal = incident(priority=Priority.P5, response_type=ResponseType.NORMAL)
    assert "submit" not in convert_modal(normal)


def test_a_note_round_trips_and_an_empty_one_is_refused() -> None:
    view = note_modal(incident())
    assert parse_note(submitted(view, {BlockId.NOTE: "  DB failover started  "})) == (
        "DB failover started"
    )
    assert list(form_errors(parse_note, submitted(view, {BlockId.NOTE: "   "}))) == [BlockId.NOTE]
    too_long = form_errors(parse_note, submitted(view, {BlockId.NOTE: "n" * 3001}))
    assert "at most 3000" in too_long[BlockId.NOTE]


# ---------------------------------------------------------------------------------------------------
# 8-9. Picker and add to timeline
# ---------------------------------------------------------------------------------------------------


def test_the_picker_returns_the_incident_the_action_and_the_extra() -> None:
    view = incident_picker_modal(
        many(3),
        action="pin",
        styles=STYLES,
        prompt="Pin to?",
        extra={"channel_id": "C9", "ts": "1.5"},
    )
    choice = parse_picker(submitted(view, {BlockId.PICK_INCIDENT: "2"}))
    assert choice == PickerChoice(2, "pin", {"channel_id": "C9", "ts": "1.5"})
    assert list(form_errors(parse_picker, submitted(view))) == [BlockId.PICK_INCIDENT]


def test_add_to_timeline_preselects_the_channels_incident_and_keeps_the_source() -> None:
    source = {"channel_id": "C012", "ts": "1700000000.000200", "permalink": "https://x/p"}
    view = add_to_timeline_modal(
        many(3), preselected=2, message_text="Rollback done <@U1>", source=source
    )
    untouched = parse_add_to_timeline(submitted(view))
    assert untouched == TimelineAddition(2, "Rollback done <@U1>", source)
    edited = parse_add_to_timeline(
        submitted(view, {BlockId.PICK_INCIDENT: "3", BlockId.TIMELINE_TEXT: "Rollback done"})
    )
    assert (edited.incident_id, edited.text) == (3, "Rollback done")
    errors = form_errors(parse_add_to_timeline, submitted(view, {BlockId.TIMELINE_TEXT: ""}))
    assert list(errors) == [BlockId.TIMELINE_TEXT]


def test_add_to_timeline_without_a_preselection_asks_for_the_incident() -> None:
    view = add_to_timeline_modal(many(2), preselected=None, message_text="hello", source={})
    errors = form_errors(parse_add_to_timeline, submitted(view))
    assert list(errors) == [BlockId.PICK_INCIDENT]


# ---------------------------------------------------------------------------------------------------
# Hostile text
# ---------------------------------------------------------------------------------------------------


def test_hostile_titles_are_escaped_in_every_mrkdwn_text() -> None:
    inc = incident(title=HOSTILE)
    views = [
        update_modal(inc, CATALOG, styles=STYLES),
        status_modal(inc, [Status.MITIGATED]),
        roles_modal(inc, CATALOG, {}),
        close_modal(inc, blockers_of(inc)),
        close_modal(incident(title=HOSTILE, status=Status.MITIGATED), []),
        reopen_modal(incident(title=HOSTILE, status=Status.CLOSED)),
        convert_modal(incident(title=HOSTILE, priority=Priority.P4)),
        note_modal(inc),
        refusal_message(inc, TransitionRefused(blockers_of(inc))),
    ]
    texts = [text for view in views for text in mrkdwn_texts(plain_json(view))]
    assert any("&lt;!channel&gt;" in text for text in texts)
    for text in texts:
        assert "<!channel>" not in text
        assert "<@U1>" not in text
        assert "<https://evil" not in text
    picker = plain_json(incident_picker_modal([inc], action="note", styles=STYLES, prompt="?"))
    option = picker["blocks"][1]["element"]["options"][0]["text"]["text"]
    assert "<!channel>" not in option and "&lt;!channel&gt;" in option


def test_the_title_to_edit_is_the_stored_text_not_its_escaped_form() -> None:
    view = update_modal(incident(title=HOSTILE), CATALOG, styles=STYLES)
    title = next(b for b in view["blocks"] if b.get("block_id") == BlockId.UPDATE_TITLE)
    assert title["element"]["initial_value"] == HOSTILE
    assert parse_update(submitted(view), CATALOG).title == HOSTILE
