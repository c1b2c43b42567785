"""The declare modal: valid Block Kit in every state, the live priority, and the round trip
build → Slack's submitted state → ``parse_declare`` with each problem on its own input block."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from syrupy.assertion import SnapshotAssertion

from bot.blocks.declare import (
    GUARD_ADVICE,
    NO_IMPACT_TEXT,
    NOTHING_CHOSEN_TEXT,
    PRIVATE_TEXT,
    DeclareFormInvalid,
    DeclarePrefill,
    declare_modal,
    impact_table,
    parse_declare,
    prefill_from_view,
)
from bot.blocks.ids import ActionId, BlockId, CallbackId
from bot.config import Catalog, CustomField, load_catalog
from bot.domain.declaration import Declaration, SourceMessage
from bot.domain.errors import UserFacingError
from bot.domain.incident import Incident, Milestones, Priority, ResponseType, Status
from sandbox.slack.blockkit import BlockKitChecker

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
CHECKER = BlockKitChecker()
IMPACT = BlockId.DECLARE_IMPACT_PREFIX
FIELD = BlockId.CUSTOM_FIELD_PREFIX
PERMALINK = "https://acme.slack.com/archives/C0SUPPORT/p1764248400000100"


@cache
def example() -> Catalog:
    return load_catalog(None)


@cache
def with_p1_field() -> Catalog:
    """The example catalog plus a required field shown only for P1."""
    catalog = example()
    bridge = CustomField(
        key="bridge", label="War-room bridge", type="text", required=True, priorities=["P1"]
    )
    return catalog.model_copy(update={"custom_fields": [*catalog.custom_fields, bridge]})


def recent_incident(n: int, *, title: str = "", channel: bool = True) -> Incident:
    return Incident(
        id=n,
        title=title or f"Checkout errors number {n} <!channel>",
        summary="Customers see 500 errors on checkout.",
        priority=Priority((n % 3) + 1),
        category="checkout",
        environments=("PRD",),
        status=Status.INVESTIGATING,
        created_by="U1",
        created_at=NOW - timedelta(minutes=20),
        updated_at=NOW,
        response_type=ResponseType.CRITICAL,
        channel_id=f"C{n:05d}" if channel else None,
        milestones=Milestones(declared_at=NOW - timedelta(minutes=20)),
    )


def source_message(text: str) -> SourceMessage:
    return SourceMessage(
        channel_id="C0SUPPORT",
        ts="1764248400.000100",
        text=text,
        author_id="U0REPORTER",
        permalink=PERMALINK,
    )


# ---------------------------------------------------------------------------------------------------
# Slack's view_submission shape, built from the view itself
# ---------------------------------------------------------------------------------------------------


def _options(element: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "options" in element:
        return list(element["options"])
    return [option for group in element.get("option_groups", []) for option in group["options"]]


def _initial(element: Mapping[str, Any]) -> Any:
    kind = element["type"]
    if kind == "static_select":
        option = element.get("initial_option")
        return option["value"] if option else None
    if kind in ("multi_static_select", "checkboxes"):
        return [option["value"] for option in element.get("initial_options", [])]
    if kind == "users_select":
        return element.get("initial_user")
    return element.get("initial_value")


def state_entry(element: Mapping[str, Any], answer: Any) -> dict[str, Any]:
    """``state.values[block_id][action_id]`` as Slack sends it for ``element`` holding ``answer``."""
    kind = element["type"]
    by_value = {option["value"]: option for option in _options(element)}
    if kind == "static_select":
        return {"type": kind, "selected_option": by_value[answer] if answer else None}
    if kind in ("multi_static_select", "checkboxes"):
        return {"type": kind, "selected_options": [by_value[value] for value in answer or []]}
    if kind == "users_select":
        return {"type": kind, "selected_user": answer}
    if kind == "number_input":
        return {"type": kind, "value": None if answer is None else str(answer)}
    assert kind == "plain_text_input", kind
    return {"type": kind, "value": answer}


def submitted(view: Mapping[str, Any], answers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The view as a view_submission carries it: inputs hold their initial value unless
    ``answers`` (block id → value, list of values, user id or text) says otherwise."""
    answers = answers or {}
    values: dict[str, dict[str, Any]] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        answer = answers[block["block_id"]] if block["block_id"] in answers else _initial(element)
        values[block["block_id"]] = {element["action_id"]: state_entry(element, answer)}
    unknown = set(answers) - set(values)
    assert not unknown, f"no such input block: {unknown}"
    return {
        "id": "V0DECLARE",
        "type": "modal",
        "callback_id": view["callback_id"],
        "private_metadata": view["private_metadata"],
        "blocks": view["blocks"],
        "hash": "1764248400.abcdef",
        "state": {"values": values},
    }


GOOD_ANSWERS: dict[str, Any] = {
    f"{IMPACT}customers": "medium",
    f"{IMPACT}sellers": "low",
    f"{IMPACT}employees": "none",
    BlockId.DECLARE_TITLE: "  Checkout returns 500 errors  ",
    BlockId.DECLARE_SUMMARY: "Since 14:02 every checkout attempt fails with a 500.",
    BlockId.DECLARE_CATEGORY: "checkout",
    BlockId.DECLARE_ENVIRONMENTS: ["PRD", "STG"],
    f"{FIELD}countries": ["France", "Spain"],
    f"{FIELD}customer_ticket": "ZD-4411",
    f"{FIELD}orders_affected": "250",
    f"{FIELD}reporter": "U0REPORTER",
    BlockId.DECLARE_PRIVATE: ["private"],
}
GOOD_PREFILL = DeclarePrefill(impacts={"customers": "medium"})


def errors_of(view: Mapping[str, Any], catalog: Catalog | None = None) -> dict[str, str]:
    with pytest.raises(DeclareFormInvalid) as raised:
        parse_declare(view, catalog or example())
    return raised.value.errors


def blocks_by_id(view: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["block_id"]: block for block in view["blocks"] if "block_id" in block}


def preview(view: Mapping[str, Any]) -> str:
    text: str = blocks_by_id(view)[BlockId.DECLARE_PRIORITY]["text"]["text"]
    return text


def mrkdwn_texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield node["text"]
        for value in node.values():
            yield from mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from mrkdwn_texts(item)


# ---------------------------------------------------------------------------------------------------
# Valid Block Kit in every state
# ---------------------------------------------------------------------------------------------------


def test_an_empty_declare_modal_is_a_valid_view(snapshot: SnapshotAssertion) -> None:
    view = declare_modal(example(), DeclarePrefill())
    assert CHECKER.check_view(view) == []
    assert view["callback_id"] == CallbackId.DECLARE_MODAL
    assert (view["title"]["text"], view["submit"]["text"], view["close"]["text"]) == (
        "Declare an incident",
        "Declare",
        "Cancel",
    )
    assert BlockId.DECLARE_GUARD not in blocks_by_id(view)
    assert preview(view) == NOTHING_CHOSEN_TEXT
    assert json.loads(view["private_metadata"]) == {"source": None, "origin": None}
    assert view == snapshot


def test_a_modal_prefilled_from_a_long_message_is_cut_to_slack_limits() -> None:
    text = 'Checkout is down & "quotes" <!channel> for <@U0BOSS> ✅\n' + "é" * 6000
    prefill = DeclarePrefill.from_message(source_message(text), origin_channel_id="C0SUPPORT")
    view = declare_modal(example(), prefill)

    assert CHECKER.check_view(view) == []
    blocks = blocks_by_id(view)
    title = blocks[BlockId.DECLARE_TITLE]["element"]["initial_value"]
    summary = blocks[BlockId.DECLARE_SUMMARY]["element"]["initial_value"]
    assert title == 'Checkout is down & "quotes" <!channel> for <@U0BOSS> ✅'
    assert len(summary) == 1200
    assert summary.endswith("…")
    assert len(view["private_metadata"]) <= 3000
    metadata = json.loads(view["private_metadata"])
    assert metadata["origin"] == "C0SUPPORT"
    assert metadata["source"]["permalink"] == PERMALINK
    assert text.startswith(metadata["source"]["text"].removesuffix("…"))
    context = view["blocks"][0]["elements"][0]["text"]
    assert context == f"Declared from <{PERMALINK}|a message> by <@U0REPORTER>."


def test_the_duplicate_guard_lists_recent_incidents_with_a_join_button_each() -> None:
    recent = [recent_incident(1), recent_incident(2), recent_incident(3, channel=False)]
    view = declare_modal(example(), DeclarePrefill(), recent=recent)

    assert CHECKER.check_view(view) == []
    guard = view["blocks"][0]
    assert guard["block_id"] == BlockId.DECLARE_GUARD
    assert "3 P1-P3 incidents were declared in the last hour" in guard["text"]["text"]
    assert GUARD_ADVICE in guard["text"]["text"]
    rows = view["blocks"][1:4]
    assert [row["accessory"]["value"] for row in rows] == ["1", "2", "3"]
    assert {row["accessory"]["action_id"] for row in rows} == {ActionId.DECLARE_JOIN_EXISTING}
    assert {row["accessory"]["text"]["text"] for row in rows} == {"Join"}
    first = rows[0]["text"]["text"]
    assert "*#1*" in first
    assert "P2 · High" in first
    assert "&lt;!channel&gt;" in first
    assert "<#C00001>" in first
    assert "<#" not in rows[2]["text"]["text"]


def test_a_p1_preview_shows_the_p1_only_custom_fields_and_a_p4_one_hides_them() -> None:
    catalog = with_p1_field()
    p1 = declare_modal(catalog, DeclarePrefill(impacts={"business": "high"}))
    p4 = declare_modal(catalog, DeclarePrefill(impacts={"business": "low"}))
    unset = declare_modal(catalog, DeclarePrefill())

    assert CHECKER.check_view(p1) == []
    assert CHECKER.check_view(p4) == []
    p1_fields = [b for b in blocks_by_id(p1) if b.startswith(FIELD)]
    assert p1_fields == [
        f"{FIELD}{k}" for k in ("countries", "customer_ticket", "orders_affected")
    ] + [
        f"{FIELD}reporter",
        f"{FIELD}bridge",
    ]
    bridge = blocks_by_id(p1)[f"{FIELD}bridge"]
    assert bridge["optional"] is False
    assert bridge["element"]["type"] == "plain_text_input"
    assert [b for b in blocks_by_id(p4) if b.startswith(FIELD)] == [
        f"{FIELD}countries",
        f"{FIELD}reporter",
    ]
    assert f"{FIELD}bridge" not in blocks_by_id(unset)


def test_custom_fields_use_the_element_of_their_type() -> None:
    view = declare_modal(example(), DeclarePrefill(impacts={"business": "high"}))
    blocks = blocks_by_id(view)
    assert blocks[f"{FIELD}countries"]["element"]["type"] == "multi_static_select"
    assert blocks[f"{FIELD}customer_ticket"]["element"]["type"] == "plain_text_input"
    assert blocks[f"{FIELD}customer_ticket"]["hint"]["text"].startswith("Zendesk ticket number")
    assert blocks[f"{FIELD}reporter"]["element"]["type"] == "users_select"
    number = blocks[f"{FIELD}orders_affected"]["element"]
    assert number == {
        "type": "number_input",
        "is_decimal_allowed": False,
        "min_value": "0",
        "action_id": f"{FIELD}orders_affected",
    }
    assert all(blocks[f"{FIELD}{k}"]["optional"] for k in ("countries", "reporter"))


def test_a_full_declare_modal(snapshot: SnapshotAssertion) -> None:
    prefill = DeclarePrefill(
        title="Checkout returns 500 errors",
        summary="Reported in #support.",
        impacts={"customers": "high", "employees": "medium"},
        category="checkout",
        environments=("PRD",),
        custom_fields={"countries": ["France"], "orders_affected": 12, "reporter": "U0REPORTER"},
        source=source_message("Checkout returns 500 errors"),
        origin_channel_id="C0SUPPORT",
    )
    view = declare_modal(example(), prefill, recent=[recent_incident(7)])
    assert CHECKER.check_view(view) == []
    assert view == snapshot


def test_the_environment_defaults_to_the_catalog_default_and_impacts_dispatch_actions() -> None:
    view = declare_modal(example(), DeclarePrefill())
    blocks = blocks_by_id(view)
    environments = blocks[BlockId.DECLARE_ENVIRONMENTS]["element"]["initial_options"]
    assert [option["value"] for option in environments] == ["PRD"]
    impacts = [blocks[f"{IMPACT}{t.key}"] for t in example().impacts.types]
    assert [b["label"]["text"] for b in impacts] == [
        "Business",
        "Customers",
        "Sellers",
        "Employees",
    ]
    assert all(b["dispatch_action"] is True for b in impacts)
    assert {b["element"]["action_id"] for b in impacts} == {ActionId.DECLARE_IMPACT}
    category = blocks[BlockId.DECLARE_CATEGORY]["element"]
    assert category["action_id"] == ActionId.DECLARE_CATEGORY
    assert [g["label"]["text"] for g in category["option_groups"]] == [
        "Commerce",
        "Operations",
        "Platform",
    ]
    private = blocks[BlockId.DECLARE_PRIVATE]["element"]["options"]
    assert [option["text"]["text"] for option in private] == [PRIVATE_TEXT]


# ---------------------------------------------------------------------------------------------------
# The live priority
# ---------------------------------------------------------------------------------------------------


def test_the_live_priority_is_the_worst_impact_with_its_sla_and_response() -> None:
    view = declare_modal(
        example(), DeclarePrefill(impacts={"customers": "low", "sellers": "medium"})
    )
    text = preview(view)
    assert text.startswith(":large_orange_circle: *P2 · High* — Acknowledge within 30 minutes")
    assert "· a dedicated channel" in text
    assert "Worst impact: Sellers: Medium" in text

    low = preview(declare_modal(example(), DeclarePrefill(impacts={"customers": "low"})))
    assert "*P4 · Low* — Handled in the team's backlog · a Jira ticket, no channel" in low


def test_employees_high_is_a_p2_per_the_example_catalogs_override() -> None:
    assert impact_table(example())[("employees", "high")] is Priority.P2
    assert impact_table(example())[("customers", "high")] is Priority.P1
    text = preview(declare_modal(example(), DeclarePrefill(impacts={"employees": "high"})))
    assert "*P2 · High*" in text


def test_every_impact_at_none_says_there_is_nothing_to_declare() -> None:
    impacts = {t.key: "none" for t in example().impacts.types}
    assert NO_IMPACT_TEXT in preview(declare_modal(example(), DeclarePrefill(impacts=impacts)))


def test_an_override_shows_in_the_preview_and_picks_the_custom_fields() -> None:
    prefill = DeclarePrefill(
        impacts={"customers": "low"},
        priority_override=Priority.P1,
        override_reason="The CEO is watching",
    )
    view = declare_modal(with_p1_field(), prefill)
    assert "*P1 · Critical* (overridden: the impacts say P4 · Low)" in preview(view)
    assert f"{FIELD}bridge" in blocks_by_id(view)


# ---------------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------------


def test_a_submitted_form_parses_into_the_declaration() -> None:
    prefill = DeclarePrefill.from_message(source_message("Checkout down"), origin_channel_id="C1")
    view = declare_modal(example(), dataclasses.replace(prefill, impacts=GOOD_PREFILL.impacts))
    declaration = parse_declare(submitted(view, GOOD_ANSWERS), example())
    assert declaration == Declaration(
        title="Checkout returns 500 errors",
        summary="Since 14:02 every checkout attempt fails with a 500.",
        impacts={"customers": "medium", "sellers": "low", "employees": "none"},
        category="checkout",
        environments=("PRD", "STG"),
        custom_fields={
            "countries": ["France", "Spain"],
            "customer_ticket": "ZD-4411",
            "orders_affected": 250,
            "reporter": "U0REPORTER",
        },
        private=True,
        source=source_message("Checkout down"),
    )


def test_an_override_with_a_reason_is_kept_and_one_equal_to_the_impacts_is_dropped() -> None:
    view = declare_modal(example(), GOOD_PREFILL)
    answers = {
        **GOOD_ANSWERS,
        BlockId.DECLARE_OVERRIDE: "P1",
        BlockId.DECLARE_OVERRIDE_REASON: "  Black Friday traffic  ",
    }
    declaration = parse_declare(submitted(view, answers), example())
    assert declaration.priority_override is Priority.P1
    assert declaration.override_reason == "Black Friday traffic"

    same = parse_declare(submitted(view, {**answers, BlockId.DECLARE_OVERRIDE: "P2"}), example())
    assert (same.priority_override, same.override_reason) == (None, None)


def test_reading_a_view_back_re_renders_the_same_inputs_with_the_new_priority() -> None:
    view = declare_modal(example(), GOOD_PREFILL)
    state = submitted(view, {**GOOD_ANSWERS, f"{IMPACT}business": "high"})
    prefill = prefill_from_view(state)
    assert prefill.impacts == {
        "business": "high",
        "customers": "medium",
        "sellers": "low",
        "employees": "none",
    }
    assert prefill.environments == ("PRD", "STG")
    assert prefill.private is True
    assert prefill.custom_fields["orders_affected"] == "250"

    again = declare_modal(example(), prefill)
    assert "*P1 · Critical*" in preview(again)
    assert submitted(again)["state"] == state["state"]
    assert {b.get("block_id") for b in again["blocks"]} == {
        b.get("block_id") for b in view["blocks"]
    }


def test_the_source_message_survives_the_private_metadata() -> None:
    source = source_message("Checkout down " * 400)
    view = declare_modal(example(), DeclarePrefill(source=source, origin_channel_id="C0SUPPORT"))
    back = prefill_from_view(submitted(view))
    assert back.origin_channel_id == "C0SUPPORT"
    assert back.source is not None
    assert back.source.permalink == PERMALINK
    assert back.source.author_id == "U0REPORTER"
    assert source.text.startswith(back.source.text.removesuffix("…"))
    assert len(view["private_metadata"]) <= 3000


# ---------------------------------------------------------------------------------------------------
# Every problem on its own block
# ---------------------------------------------------------------------------------------------------

BAD_CASES = [
    pytest.param(
        {BlockId.DECLARE_TITLE: "DB down"},
        BlockId.DECLARE_TITLE,
        "The title needs at least 10 characters (7 given).",
        id="short title",
    ),
    pytest.param(
        {BlockId.DECLARE_SUMMARY: None},
        BlockId.DECLARE_SUMMARY,
        "The summary needs at least 10 characters (0 given).",
        id="no summary",
    ),
    pytest.param(
        {BlockId.DECLARE_ENVIRONMENTS: []},
        BlockId.DECLARE_ENVIRONMENTS,
        "Choose at least one environment.",
        id="no environment",
    ),
    pytest.param(
        {f"{IMPACT}customers": "none", f"{IMPACT}sellers": "none"},
        f"{IMPACT}business",
        "Choose the impact on at least one of Business, Customers, Sellers or Employees.",
        id="every impact at none",
    ),
    pytest.param(
        {f"{IMPACT}customers": None, f"{IMPACT}sellers": None, f"{IMPACT}employees": None},
        f"{IMPACT}business",
        "Choose the impact on at least one of Business, Customers, Sellers or Employees.",
        id="no impact chosen",
    ),
    pytest.param(
        {BlockId.DECLARE_OVERRIDE: "P4", BlockId.DECLARE_OVERRIDE_REASON: "meh"},
        BlockId.DECLARE_OVERRIDE_REASON,
        "Say why P4 instead of P2 (at least 10 characters).",
        id="override without a reason",
    ),
    pytest.param(
        {BlockId.DECLARE_CATEGORY: None},
        BlockId.DECLARE_CATEGORY,
        "Choose a category.",
        id="no category",
    ),
    pytest.param(
        {f"{FIELD}orders_affected": "-3"},
        f"{FIELD}orders_affected",
        "Orders affected (estimate) must be at least 0 (-3 given).",
        id="number below its minimum",
    ),
    pytest.param(
        {f"{FIELD}orders_affected": "2.5"},
        f"{FIELD}orders_affected",
        "Orders affected (estimate) must be a whole number ('2.5' given).",
        id="number not an integer",
    ),
]


@pytest.mark.parametrize(("answers", "block_id", "message"), BAD_CASES)
def test_each_bad_input_is_reported_on_its_block(
    answers: dict[str, Any], block_id: str, message: str
) -> None:
    view = declare_modal(example(), GOOD_PREFILL)
    errors = errors_of(submitted(view, {**GOOD_ANSWERS, **answers}))
    assert errors == {block_id: message}


def test_an_unknown_category_is_reported_on_the_category_block() -> None:
    view = submitted(declare_modal(example(), GOOD_PREFILL), GOOD_ANSWERS)
    entry = view["state"]["values"][BlockId.DECLARE_CATEGORY][ActionId.DECLARE_CATEGORY]
    entry["selected_option"] = {"text": {"type": "plain_text", "text": "Gone"}, "value": "gone"}
    assert errors_of(view) == {
        BlockId.DECLARE_CATEGORY: "This category no longer exists: choose another one."
    }


def test_a_required_p1_field_is_required_only_at_p1() -> None:
    catalog = with_p1_field()
    p1 = declare_modal(catalog, DeclarePrefill(impacts={"business": "high"}))
    answers = {**GOOD_ANSWERS, f"{IMPACT}business": "high"}
    assert errors_of(submitted(p1, answers), catalog) == {
        f"{FIELD}bridge": "War-room bridge: this field is required."
    }
    filled = parse_declare(submitted(p1, {**answers, f"{FIELD}bridge": "meet.example/x"}), catalog)
    assert filled.custom_fields["bridge"] == "meet.example/x"

    p2 = declare_modal(catalog, GOOD_PREFILL)
    assert "bridge" not in parse_declare(submitted(p2, GOOD_ANSWERS), catalog).custom_fields


def test_every_problem_is_reported_at_once() -> None:
    view = declare_modal(example(), DeclarePrefill())
    errors = errors_of(submitted(view, {BlockId.DECLARE_OVERRIDE: "P1"}))
    assert set(errors) == {
        f"{IMPACT}business",
        BlockId.DECLARE_OVERRIDE_REASON,
        BlockId.DECLARE_TITLE,
        BlockId.DECLARE_SUMMARY,
        BlockId.DECLARE_CATEGORY,
    }
    assert errors[BlockId.DECLARE_OVERRIDE_REASON] == "Say why P1 (at least 10 characters)."
    with pytest.raises(UserFacingError):
        parse_declare(submitted(view), example())


# ---------------------------------------------------------------------------------------------------
# Whatever people type
# ---------------------------------------------------------------------------------------------------

_OURS = re.compile(r"<#C[A-Z0-9]+>|<@U[A-Z0-9]+>|<https://[^|<>]+\|a message>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_NASTY = st.sampled_from(["<!channel>", "<!here>", "&", "<@U1>", "<https://evil|ok>", ">", "*_~"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.lists(st.one_of(_NASTY, st.text(max_size=80)), max_size=20).map("".join))
def test_any_typed_text_builds_a_valid_view_and_is_never_unescaped_in_mrkdwn(text: str) -> None:
    prefill = DeclarePrefill(
        title=text,
        summary=text * 3,
        impacts={"customers": "high"},
        override_reason=text,
        custom_fields={"customer_ticket": text},
        source=source_message(text),
    )
    view = declare_modal(example(), prefill, recent=[recent_incident(1, title=text or "x")])
    assert CHECKER.check_view(view) == []
    for mrkdwn in mrkdwn_texts(view["blocks"]):
        rest = _ENTITY.sub("", _OURS.sub("", mrkdwn))
        assert "<" not in rest
        assert ">" not in rest
        assert "&" not in rest
    back = prefill_from_view(submitted(view))
    assert back.source is not None
    assert text.startswith(back.source.text.removesuffix("…"))


def test_a_huge_catalog_and_many_recent_incidents_stay_within_100_blocks() -> None:
    catalog = example()
    many = [CustomField(key=f"extra{n}", label=f"Extra {n}", type="text") for n in range(120)]
    catalog = catalog.model_copy(update={"custom_fields": many})
    recent = [recent_incident(n) for n in range(1, 13)]
    view = declare_modal(catalog, DeclarePrefill(source=source_message("x")), recent=recent)
    assert len(view["blocks"]) == 100
    assert CHECKER.check_view(view) == []
    assert view["blocks"][-1]["block_id"] == BlockId.DECLARE_PRIVATE
    joins = [
        b for b in view["blocks"] if b.get("accessory", {}).get("text", {}).get("text") == "Join"
    ]
    assert len(joins) == 5
    assert any("And 7 more." in text for text in mrkdwn_texts(view["blocks"]))


def test_a_long_message_prefills_a_short_title_its_first_sentence_cut_at_a_word():
    source = SourceMessage(
        channel_id="C1",
        ts="1.1",
        text=(
            "Card payments fail with 502 since 14:02, about 40% of checkouts are refused by the "
            "gateway in every country. Wallets still work."
        ),
    )

    prefill = DeclarePrefill.from_message(source)

    assert len(prefill.title) <= 80
    assert prefill.title.endswith("…")
    assert prefill.title.startswith("Card payments fail with 502 since 14:02")
    assert " " not in prefill.title[-2:]
    assert prefill.summary == source.text


def test_a_short_first_sentence_is_the_whole_title():
    source = SourceMessage(channel_id="C1", ts="1.1", text="Checkout is down. Since 14:02.")

    assert DeclarePrefill.from_message(source).title == "Checkout is down"
