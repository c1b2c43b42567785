"""The modal parsers read whatever a view submission carries — random, over-long, missing and
wrong-typed values — and either return a value or refuse in words (a ``UserFacingError`` the
handler turns into ``response_action: errors`` or an ephemeral reply). Anything else would reach
the error handler as "something went wrong on our side".

A view's ``private_metadata`` is written by the bot and returned by Slack untouched, so a view
whose metadata has the right shape must never give a ``ValueError``; with arbitrary metadata (a
forged or foreign view) ``ValueError`` ("not one of ours") is the one other answer allowed."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.blocks import manage, timeline
from bot.blocks.command import closest_subcommand, parse_command_text
from bot.blocks.declare import parse_declare
from bot.blocks.followup import parse_followup_modal, parse_followup_text
from bot.blocks.ids import BlockId
from bot.config import Catalog, load_catalog
from bot.domain.errors import UserFacingError
from bot.domain.incident import Milestone
from tests.fuzz.strategies import json_values, state_values, texts, view_with

CATALOG: Catalog = load_catalog(None)

Parser = Callable[[dict[str, Any]], object]

PARSERS: dict[str, Parser] = {
    "declare": lambda view: parse_declare(view, CATALOG),
    "update": lambda view: manage.parse_update(view, CATALOG),
    "status": manage.parse_status,
    "roles": manage.parse_roles,
    "close": manage.parse_close,
    "reopen": manage.parse_reopen,
    "convert": manage.parse_convert,
    "note": manage.parse_note,
    "picker": manage.parse_picker,
    "add_to_timeline": manage.parse_add_to_timeline,
    "milestone": manage.parse_milestone,
    "milestones": timeline.parse_milestones,
    "timeline_edit": timeline.parse_timeline_edit,
    "timeline_strike": timeline.parse_timeline_strike,
    "followup": lambda view: parse_followup_modal(view, max_length=255),
}

ids = st.integers(min_value=1, max_value=2**31)
well_formed_metadata = st.fixed_dictionaries(
    {
        "incident_id": ids,
        "version": ids,
        "entry_id": ids,
        "milestone": st.sampled_from([m.value for m in Milestone]),
        "shown": st.dictionaries(
            st.sampled_from([m.value for m in Milestone]), st.none() | st.integers()
        ),
        "action": st.sampled_from(["note", "status", "cost", "followup", "page"]),
    },
    optional={
        "extra": json_values,
        "channel": st.text(max_size=12),
        "source": json_values,
        "origin": json_values,
    },
).map(json.dumps)
"""The union of every modal's metadata keys, each with the type its builder writes."""


def parse_or_refuse(name: str, view: dict[str, Any]) -> None:
    try:
        PARSERS[name](view)
    except UserFacingError as refused:
        assert refused.message.strip(), f"{name}: a refusal without words"


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(PARSERS)), values=state_values, metadata=well_formed_metadata)
@example(
    name="milestone",
    values={BlockId.MILESTONE: {"a": {"type": "datetimepicker", "selected_date_time": 10**20}}},
    metadata=json.dumps({"milestone": "started_at"}),
)
@example(
    name="milestones",
    values={
        f"{BlockId.MILESTONE_PREFIX}started_at": {
            "a": {"type": "datetimepicker", "selected_date_time": -(10**18)}
        }
    },
    metadata=json.dumps({"incident_id": 1, "shown": {}}),
)
@example(
    name="note",
    values={BlockId.NOTE: {"a": {"type": "checkboxes", "selected_options": True}}},
    metadata=json.dumps({"incident_id": 1, "version": 1}),
)
@example(
    name="roles",
    values={
        "role.commander": {"a": {"type": "users_select", "selected_user": "U" + "0" * 32}},
    },
    metadata=json.dumps({"incident_id": 1, "version": 1}),
)
def test_every_parser_answers_any_state_with_a_value_or_a_refusal_in_words(
    name: str, values: dict[str, Any], metadata: str
) -> None:
    parse_or_refuse(name, view_with(values, metadata))


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(sorted(PARSERS)),
    values=state_values,
    metadata=texts | json_values.map(json.dumps),
)
def test_a_forged_view_is_told_apart_as_not_ours_and_nothing_else(
    name: str, values: dict[str, Any], metadata: str
) -> None:
    try:
        parse_or_refuse(name, view_with(values, metadata))
    except ValueError as foreign:
        assert "not" in str(foreign)


@settings(max_examples=40, deadline=None)
@given(view=json_values)
def test_a_view_that_is_not_even_a_view_never_breaks_a_parser(view: Any) -> None:
    for name in PARSERS:
        shaped = view if isinstance(view, dict) else {"state": view}
        with contextlib.suppress(ValueError):  # "not one of ours": no metadata
            parse_or_refuse(name, shaped)


@settings(max_examples=40, deadline=None)
@given(text=st.none() | texts | st.text(alphabet=st.characters(), max_size=200))
def test_any_command_text_splits_into_a_lower_cased_subcommand_and_its_verbatim_rest(
    text: str | None,
) -> None:
    parsed = parse_command_text(text)
    assert parsed.name == parsed.name.lower()
    assert " " not in parsed.name
    if (text or "").strip():
        assert parsed.argument in (text or "")
    suggestion = closest_subcommand(parsed.name, ["open", "note", "status", "close", "help"])
    assert suggestion is None or suggestion in {"open", "note", "status", "close", "help"}


@settings(max_examples=40, deadline=None)
@given(text=texts, limit=st.integers(min_value=1, max_value=300))
def test_a_followup_text_is_one_line_within_its_limit_or_refused(text: str, limit: int) -> None:
    try:
        summary = parse_followup_text(text, max_length=limit)
    except UserFacingError as refused:
        assert refused.message
        return
    assert summary and "\n" not in summary and len(summary) <= limit


@settings(max_examples=40, deadline=None)
@given(action=json_values | st.builds(lambda v: {"selected_option": {"value": v}}, json_values))
def test_a_timeline_entry_menu_choice_is_parsed_or_told_apart_as_not_ours(action: Any) -> None:
    try:
        kind, entry_id = timeline.parse_entry_menu(action if isinstance(action, dict) else {})
    except ValueError:
        return
    assert kind in ("edit", "strike", "followup") and entry_id >= 0


@pytest.mark.parametrize("stamp", [10**20, -(10**18), float("inf"), float("nan")])
def test_an_impossible_milestone_time_is_refused_in_words(stamp: float) -> None:
    values: dict[str, Any] = {
        BlockId.MILESTONE.value: {"a": {"type": "datetimepicker", "selected_date_time": stamp}}
    }
    with pytest.raises(UserFacingError):
        manage.parse_milestone(view_with(values, json.dumps({"milestone": "started_at"})))
