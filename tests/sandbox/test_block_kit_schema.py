"""The sandbox's Block Kit check indexes the schema's discriminated unions by `type` (a modal costs
one branch per block, not 21): it must accept and refuse exactly what the published schema does."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.blocks.declare import DeclarePrefill, declare_modal
from bot.config import load_catalog
from sandbox.slack.blockkit import BlockKitChecker, _validator

TYPES = [
    "section",
    "input",
    "actions",
    "context",
    "button",
    "static_select",
    "plain_text",
    "mrkdwn",
    "image",
    "rich_text",
    "rich_text_section",
    "text",
    "header",
    "bogus",
]


def product_modal() -> dict[str, Any]:
    view = declare_modal(load_catalog(None), DeclarePrefill())
    return json.loads(json.dumps(view))  # type: ignore[no-any-return]


def objects(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        yield path
        for key, value in node.items():
            yield from objects(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from objects(value, (*path, index))


def at(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def valid(view: Any, *, indexed: bool) -> bool:
    return bool(_validator("modal_view", indexed=indexed).is_valid(view))


def test_the_product_modal_is_valid_both_ways() -> None:
    view = product_modal()
    assert valid(view, indexed=True) and valid(view, indexed=False)


# No shrinking: the published schema takes a fifth of a second per view, and a failure's example
# reads well enough as drawn.
@settings(
    max_examples=40,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_broken_view_is_refused_exactly_when_the_published_schema_refuses_it(
    data: st.DataObject,
) -> None:
    view = product_modal()
    paths = list(objects(view))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        node = at(view, path)
        change = data.draw(st.sampled_from(["type", "drop", "extra", "scalar"]))
        if change == "type":
            node["type"] = data.draw(st.sampled_from(TYPES))
        elif change == "drop" and node:
            del node[data.draw(st.sampled_from(sorted(node)))]
        elif change == "extra":
            node["bogus"] = 1
        elif change == "scalar" and path:
            at(view, path[:-1])[path[-1]] = data.draw(st.sampled_from(["x", 3, None, []]))
            paths = list(objects(view))
    assert valid(view, indexed=True) == valid(copy.deepcopy(view), indexed=False)


def test_a_wrong_field_is_named_rather_than_every_block_type() -> None:
    view = product_modal()
    view["blocks"][1]["bogus"] = 1
    problems = BlockKitChecker().check_view(view)
    assert [p.pointer for p in problems] == ["/view/blocks/1"]
    assert "'bogus' was unexpected" in problems[0].text
