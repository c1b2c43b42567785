"""Block Kit checks: the Tightknit JSON Schema plus Slack's documented limits.

Reproduces what Slack does with `blocks` / `view` arguments: refuse them with `invalid_blocks`
(messages) or `invalid_arguments` + `response_metadata.messages` (views). Sources: SLACK_NOTES §4 (limits,
each also encoded in slack_sdk's models) and §12.3 (`BKS` `$defs/modal_view`, `$defs/home_view`, top-level
array). `BKS` is third party and stricter than Slack (`additionalProperties: false`), so it is switchable
(`strict=False` keeps only the limits).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from sandbox.specs import specs_dir

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
VIEW_MAX_BYTES = 250_000  # "greater than 250kb" → view_too_large (methods/views.open.json)

# (block type, field) → max length, SLACK_NOTES §4.
_TEXT_LIMITS: dict[tuple[str, str], int] = {
    ("section", "text"): 3000,
    ("header", "text"): 150,
    ("input", "label"): 2000,
    ("input", "hint"): 2000,
    ("image", "alt_text"): 2000,
    ("image", "image_url"): 3000,
    ("image", "title"): 2000,
    ("markdown", "text"): 12000,
}
_OPTION_LIMITS: dict[str, int] = {
    "static_select": 100,
    "multi_static_select": 100,
    "checkboxes": 10,
    "radio_buttons": 10,
    "overflow": 5,
}


@dataclass(frozen=True)
class Problem:
    """One Block Kit problem, rendered the way Slack reports it in `response_metadata.messages`."""

    pointer: str
    text: str

    def __str__(self) -> str:
        return f"[ERROR] {self.text} [json-pointer:{self.pointer}]"


@cache
def _original_schema() -> dict[str, Any]:
    path = specs_dir() / "slack_block_kit_schema_tightknit" / "slack-block-kit.schema.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


@cache
def _schema() -> dict[str, Any]:
    """The schema with its discriminated unions indexed by `type` (see ``_by_type``)."""
    schema = _original_schema()
    return _by_type(schema, schema["$defs"])  # type: ignore[no-any-return]


def _discriminator(branch: Any, defs: dict[str, Any]) -> str | None:
    """The `type` constant of a ``{"$ref": "#/$defs/X"}`` branch whose X is an object that requires
    `type` and fixes it to a constant; None for any other branch."""
    if not isinstance(branch, dict) or set(branch) != {"$ref"}:
        return None
    ref = branch["$ref"]
    if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
        return None
    target = defs.get(ref.removeprefix("#/$defs/"), {})
    const = target.get("properties", {}).get("type", {}).get("const")
    if target.get("type") == "object" and "type" in target.get("required", []):
        return const if isinstance(const, str) else None
    return None


def _by_type(node: Any, defs: dict[str, Any]) -> Any:
    """Rewrite every ``oneOf`` of object schemas told apart by distinct `type` constants (blocks,
    elements, text objects, rich-text leaves) into "`type` is one of them, then that one schema".

    The two are equivalent (at most one branch can match an object, the one its `type` names; a
    non-object or an unknown `type` matches none), but jsonschema evaluates a ``oneOf`` by
    validating every branch: 21 block types by 21 input elements made a modal cost 150-400 ms of
    CPU, which held up every other call the sandbox served. The rewrite checks one branch, and its
    errors name the field that is wrong instead of "not valid under any of the given schemas"."""
    if isinstance(node, list):
        return [_by_type(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten = {key: _by_type(value, defs) for key, value in node.items()}
    branches = node.get("oneOf")
    if isinstance(branches, list) and branches:
        kinds = [_discriminator(branch, defs) for branch in branches]
        if all(kinds) and len(set(kinds)) == len(kinds):
            del rewritten["oneOf"]
            union: list[Any] = [
                {
                    "type": "object",
                    "required": ["type"],
                    "properties": {"type": {"enum": kinds}},
                }
            ]
            union += [
                {"if": {"properties": {"type": {"const": kind}}}, "then": branch}
                for kind, branch in zip(kinds, branches, strict=True)
            ]
            rewritten["allOf"] = [*rewritten.get("allOf", []), *union]
    return rewritten


@cache
def _validator(definition: str | None, *, indexed: bool = True) -> Draft202012Validator:
    schema = _schema() if indexed else _original_schema()
    if definition is None:
        return Draft202012Validator(schema)
    sub = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    return Draft202012Validator(sub)


def _text_of(value: Any) -> str | None:
    if isinstance(value, dict):
        text = value.get("text")
        return text if isinstance(text, str) else None
    return value if isinstance(value, str) else None


def _limit(problems: list[Problem], pointer: str, value: Any, maximum: int, what: str) -> None:
    text = _text_of(value)
    if text is not None and len(text) > maximum:
        problems.append(Problem(pointer, f"{what} must be at most {maximum} characters"))


def _check_element(element: dict[str, Any], pointer: str, problems: list[Problem]) -> None:
    kind = element.get("type")
    _limit(problems, f"{pointer}/action_id", element.get("action_id"), 255, "action_id")
    _limit(problems, f"{pointer}/placeholder", element.get("placeholder"), 150, "placeholder")
    if kind == "button":
        _limit(problems, f"{pointer}/text", element.get("text"), 75, "button text")
        _limit(problems, f"{pointer}/value", element.get("value"), 2000, "button value")
        _limit(problems, f"{pointer}/url", element.get("url"), 3000, "button url")
    options = element.get("options")
    if isinstance(options, list):
        maximum = _OPTION_LIMITS.get(str(kind))
        if maximum is not None and len(options) > maximum:
            problems.append(
                Problem(f"{pointer}/options", f"must provide at most {maximum} options")
            )
        for j, option in enumerate(options):
            if isinstance(option, dict):
                _limit(
                    problems, f"{pointer}/options/{j}/text", option.get("text"), 75, "option text"
                )
                _limit(
                    problems,
                    f"{pointer}/options/{j}/value",
                    option.get("value"),
                    150,
                    "option value",
                )
    confirm = element.get("confirm")
    if isinstance(confirm, dict):
        for key, maximum in (("title", 100), ("text", 300), ("confirm", 30), ("deny", 30)):
            _limit(
                problems, f"{pointer}/confirm/{key}", confirm.get(key), maximum, f"confirm {key}"
            )


def _elements(block: dict[str, Any], pointer: str) -> Iterator[tuple[dict[str, Any], str]]:
    for key in ("accessory", "element"):
        if isinstance(block.get(key), dict):
            yield block[key], f"{pointer}/{key}"
    if block.get("type") in {"actions", "context_actions"} and isinstance(
        block.get("elements"), list
    ):
        for j, element in enumerate(block["elements"]):
            if isinstance(element, dict):
                yield element, f"{pointer}/elements/{j}"


def check_limits(blocks: Any, base: str, max_blocks: int) -> list[Problem]:
    """Slack's limits that the schema does not express (or expresses per block only)."""
    problems: list[Problem] = []
    if not isinstance(blocks, list):
        return [Problem(base, "must be an array of blocks")]
    if len(blocks) > max_blocks:
        problems.append(Problem(base, f"must provide at most {max_blocks} blocks"))
    seen_block_ids: set[str] = set()
    markdown_total = 0
    for i, block in enumerate(blocks):
        pointer = f"{base}/{i}"
        if not isinstance(block, dict):
            problems.append(Problem(pointer, "must be an object"))
            continue
        kind = str(block.get("type"))
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in seen_block_ids:
                problems.append(Problem(f"{pointer}/block_id", f"duplicate block_id {block_id!r}"))
            seen_block_ids.add(block_id)
            _limit(problems, f"{pointer}/block_id", block_id, 255, "block_id")
        for (block_type, key), maximum in _TEXT_LIMITS.items():
            if kind == block_type:
                _limit(problems, f"{pointer}/{key}", block.get(key), maximum, f"{kind}.{key}")
        if kind == "section":
            text = _text_of(block.get("text"))
            if text is not None and not text:
                problems.append(Problem(f"{pointer}/text", "section text must not be empty"))
            fields = block.get("fields")
            if isinstance(fields, list):
                if len(fields) > 10:
                    problems.append(Problem(f"{pointer}/fields", "must provide at most 10 fields"))
                for j, item in enumerate(fields):
                    _limit(problems, f"{pointer}/fields/{j}", item, 2000, "section field")
        if kind == "markdown":
            markdown_total += len(_text_of(block.get("text")) or "")
        if (
            kind == "actions"
            and isinstance(block.get("elements"), list)
            and len(block["elements"]) > 25
        ):
            problems.append(Problem(f"{pointer}/elements", "must provide at most 25 elements"))
        if (
            kind == "context"
            and isinstance(block.get("elements"), list)
            and len(block["elements"]) > 10
        ):
            problems.append(Problem(f"{pointer}/elements", "must provide at most 10 elements"))
        action_ids: set[str] = set()
        for element, element_pointer in _elements(block, pointer):
            _check_element(element, element_pointer, problems)
            action_id = element.get("action_id")
            if isinstance(action_id, str):
                if action_id in action_ids:
                    problems.append(Problem(element_pointer, f"duplicate action_id {action_id!r}"))
                action_ids.add(action_id)
    if markdown_total > 12000:
        problems.append(Problem(base, "markdown blocks exceed 12000 characters in total"))
    return problems


def _schema_problems(validator: Draft202012Validator, instance: Any, base: str) -> list[Problem]:
    error = best_match(validator.iter_errors(instance))
    if error is None:
        return []
    path = "".join(f"/{part}" for part in error.absolute_path)
    return [Problem(f"{base}{path}", f"schema: {error.message[:300]}")]


class BlockKitChecker:
    """Validates message blocks and views; results are cached by canonical JSON (benchmarks repeat)."""

    def __init__(self, *, strict: bool = True, cache_size: int = 1024) -> None:
        self.strict = strict
        self._cache: OrderedDict[tuple[str, str], list[Problem]] = OrderedDict()
        self._cache_size = cache_size

    def _cached(self, kind: str, value: Any) -> tuple[tuple[str, str], list[Problem] | None]:
        key = (kind, json.dumps(value, sort_keys=True, default=str))
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
        return key, found

    def _store(self, key: tuple[str, str], problems: list[Problem]) -> list[Problem]:
        self._cache[key] = problems
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return problems

    def check_message_blocks(self, blocks: Any, base: str = "/blocks") -> list[Problem]:
        """Blocks of a message: schema (top-level array) + the 50-block limit + §4 limits."""
        key, found = self._cached("message", blocks)
        if found is not None:
            return found
        problems = check_limits(blocks, base, MESSAGE_MAX_BLOCKS)
        if self.strict and isinstance(blocks, list) and blocks:
            problems += _schema_problems(_validator(None), blocks, base)
        return self._store(key, problems)

    def check_view(self, view: Any, base: str = "/view") -> list[Problem]:
        """A modal or home view: `$defs/modal_view` / `$defs/home_view` + the §4 view limits."""
        key, found = self._cached("view", view)
        if found is not None:
            return found
        if not isinstance(view, dict):
            return self._store(key, [Problem(base, "must be an object")])
        kind = view.get("type")
        if kind not in {"modal", "home"}:
            return self._store(key, [Problem(f"{base}/type", "must be 'modal' or 'home'")])
        problems = check_limits(view.get("blocks"), f"{base}/blocks", VIEW_MAX_BLOCKS)
        for field_name in ("title", "submit", "close"):
            _limit(problems, f"{base}/{field_name}", view.get(field_name), 24, field_name)
        _limit(
            problems,
            f"{base}/private_metadata",
            view.get("private_metadata"),
            3000,
            "private_metadata",
        )
        _limit(problems, f"{base}/callback_id", view.get("callback_id"), 255, "callback_id")
        _limit(problems, f"{base}/external_id", view.get("external_id"), 255, "external_id")
        blocks = view.get("blocks")
        if kind == "modal":
            if not isinstance(view.get("title"), dict):
                problems.append(Problem(f"{base}/title", "modal title is required"))
            has_input = isinstance(blocks, list) and any(
                isinstance(b, dict) and b.get("type") == "input" for b in blocks
            )
            if has_input and not view.get("submit"):
                problems.append(Problem(f"{base}/submit", "submit is required with input blocks"))
        if self.strict:
            definition = "modal_view" if kind == "modal" else "home_view"
            problems += _schema_problems(_validator(definition), view, base)
        return self._store(key, problems)
