"""Contract checks on every Web API call, recorded as violations instead of silently accepted.

What is checked (SLACK_NOTES §12.1 and §3): the method exists; the encoding is one Slack accepts (a JSON body
only with POST and only where `json_input_supported`; `apps.connections.open` only by POST); argument names
are in `args.properties` (plus `token`, and `team_id` that Bolt adds to every call, §3.1); required
arguments are present (`token` is satisfied by the Bearer header, §2.1); every error the sandbox answers
is documented for the method (§2.2); no unescaped `<!channel>`/`<!here>`/`<!everyone>` in the app's text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sandbox.slack.spec import MethodSpec

#: Arguments accepted on every call although not listed: the token (header or form, §2.1) and `team_id`,
#: which Bolt's per-request client adds to every call (§3.1).
ALWAYS_ACCEPTED_ARGS = frozenset({"token", "team_id"})

#: Alternatives where the spec's `required` list is stricter than Slack (SLACK_NOTES §5.1).
REQUIRED_ONE_OF: dict[str, tuple[str, ...]] = {
    "views.open": ("trigger_id", "interactivity_pointer"),
    "views.push": ("trigger_id", "interactivity_pointer"),
    "views.update": ("view_id", "external_id"),
}

_BROADCAST = re.compile(r"<!(channel|here|everyone)(\|[^>]*)?>")


@dataclass(frozen=True)
class Violation:
    """One broken rule: which method (or surface), what kind of rule, and the details."""

    method: str
    kind: str
    detail: str
    at: float = field(default_factory=time.time, compare=False)

    def __str__(self) -> str:
        return f"{self.method}: {self.kind}: {self.detail}"


def request_violations(
    spec: MethodSpec, *, verb: str, json_body: bool, args: dict[str, Any], has_bearer: bool
) -> list[Violation]:
    """Encoding, argument names and required arguments of one call."""
    found: list[Violation] = []
    name = spec.name
    if json_body and verb != "POST":
        found.append(Violation(name, "encoding", f"JSON body sent with {verb}; JSON is POST-only"))
    if json_body and not spec.json_supported:
        found.append(
            Violation(name, "encoding", "JSON body sent but the method does not accept JSON")
        )
    if name == "apps.connections.open" and verb != "POST":
        found.append(
            Violation(name, "verb", f"{verb} used; Slack requires POST (insecure_request)")
        )
    unknown = sorted(set(args) - spec.arg_names - ALWAYS_ACCEPTED_ARGS)
    if unknown:
        found.append(Violation(name, "unknown_argument", f"not in args.properties: {unknown}"))
    missing = [
        arg
        for arg in spec.required
        if not (arg == "token" and has_bearer) and args.get(arg) in (None, "")
    ]
    one_of = REQUIRED_ONE_OF.get(name)
    if one_of and all(args.get(arg) in (None, "") for arg in one_of):
        missing.append(" or ".join(one_of))
    if missing:
        found.append(Violation(name, "missing_argument", f"required: {missing}"))
    return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def broadcast_mentions(*values: Any) -> list[str]:
    """The `<!channel>`-style broadcasts found in any string inside `values`."""
    return [m.group(0) for value in values for s in _strings(value) for m in _BROADCAST.finditer(s)]
