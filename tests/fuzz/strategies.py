"""Hypothesis strategies for what Slack (or someone forging its payloads) can send: view states
with random, over-long, missing and wrong-typed values, and the ids the bot's modals use."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from bot.blocks.ids import BlockId
from bot.domain.incident import Milestone

IMPACT_KEYS = ("business", "customers", "employees", "infrastructure", "unknown")
ROLE_KEYS = ("commander", "communications_lead", "scribe", "unknown")
FIELD_KEYS = ("countries", "customer_ticket", "orders_affected", "reporter", "unknown")

BLOCK_IDS: tuple[str, ...] = (
    *(b.value for b in BlockId),
    *(f"{BlockId.DECLARE_IMPACT_PREFIX}{k}" for k in IMPACT_KEYS),
    *(f"{BlockId.ROLE_PREFIX}{k}" for k in ROLE_KEYS),
    *(f"{BlockId.CUSTOM_FIELD_PREFIX}{k}" for k in FIELD_KEYS),
    *(f"{BlockId.MILESTONE_PREFIX}{m.value}" for m in Milestone),
)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
texts = (
    st.text(max_size=60)
    | st.text(min_size=3001, max_size=3200)  # over Slack's longest input (3000 characters)
    | st.sampled_from(["", " ", "\n", "P1", "P9", "high", "#12", "12", "-1", "0", "1e309"])
    | st.sampled_from(["<!channel>", "<@U123>", "@here", "*bold*", "<https://x|y>"])
)
option_values = texts | st.sampled_from(
    [
        "low",
        "medium",
        "high",
        "critical",
        "none",
        "payments",
        "PRD",
        "STG",
        "investigating",
        "mitigating",
        "mitigated",
        "closed",
        "duplicate",
        "false_alarm",
        "resolved",
        "France",
        "private",
        "1",
        "99999999999999999999",
    ]
)
user_ids = st.sampled_from(["U0ALICE", "W123", "UNKNOWN", "", "not a user"]) | texts
stamps = (
    st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, 1, 1_700_000_000, 253402300800, -62135596801])
)


def _option(value: Any) -> Any:
    return {"text": {"type": "plain_text", "text": "x"}, "value": value}


elements: st.SearchStrategy[Any] = st.one_of(
    st.builds(lambda v: {"type": "plain_text_input", "value": v}, texts | json_values),
    st.builds(
        lambda v: {"type": "static_select", "selected_option": v},
        st.none() | st.builds(_option, option_values | json_values) | json_values,
    ),
    st.builds(
        lambda v: {"type": "radio_buttons", "selected_option": v},
        st.none() | st.builds(_option, option_values),
    ),
    st.builds(
        lambda v: {"type": "multi_static_select", "selected_options": v},
        st.lists(st.builds(_option, option_values | json_values), max_size=4) | json_values,
    ),
    st.builds(
        lambda v: {"type": "checkboxes", "selected_options": v},
        st.lists(st.builds(_option, option_values), max_size=3),
    ),
    st.builds(lambda v: {"type": "users_select", "selected_user": v}, st.none() | user_ids),
    st.builds(lambda v: {"type": "number_input", "value": v}, texts | json_values),
    st.builds(lambda v: {"type": "datetimepicker", "selected_date_time": v}, st.none() | stamps),
    json_values,
)

state_values: st.SearchStrategy[dict[str, Any]] = st.dictionaries(
    st.sampled_from(BLOCK_IDS) | st.text(max_size=10),
    st.dictionaries(st.text(max_size=10), elements, max_size=2) | json_values,
    max_size=10,
)
"""``view["state"]["values"]``: known and unknown block ids, each with any element state."""


def view_with(values: dict[str, Any], metadata: str) -> dict[str, Any]:
    return {"type": "modal", "state": {"values": values}, "private_metadata": metadata}
