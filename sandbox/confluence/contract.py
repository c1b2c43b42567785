"""Confluence's OpenAPI documents, loaded leniently, and the checks run on every call.

Two documents: `confluence_v2.json` (REST v2, `/wiki/api/v2`, what the bot speaks) and the stale
`confluence_v1_2021.json` (REST v1, `/wiki/rest/api`), needed only because v2 has no operation that
writes a label (INTEGRATION_NOTES §6, §8). Each relaxation below names the defect it answers
(INTEGRATION_NOTES §2); the saved files are never edited: the overlay is applied to a fresh copy at
load time (§7.2).

Storage-format bodies are XHTML fragments; the schemas type them as plain strings, so
`storage_problem` checks that they are well-formed (Confluence answers 400 "Error parsing xhtml"
otherwise).

Loading, finding the operation and validating a call are `sandbox.openapi`'s, alike for every
vendor; the `Violation` record is `sandbox.http`'s.
"""

from __future__ import annotations

import html.entities
import re
import xml.parsers.expat
from functools import cache
from typing import Any, Literal

from sandbox.http import Violation
from sandbox.openapi import JSON, Spec, load_api, read_spec

__all__ = [
    "V1_PREFIX",
    "V2_PREFIX",
    "ApiVersion",
    "Violation",
    "spec_of",
    "storage_problem",
    "version_of",
]

ApiVersion = Literal["v1", "v2"]

V2_PREFIX = "/wiki/api/v2"
V1_PREFIX = "/wiki/rest/api"

#: Operations whose request body is `oneOf[<X>BodyWrite, <X>NestedBodyWrite]` (C1).
_BODY_ONE_OF = (
    ("/pages", "post"),
    ("/pages/{id}", "put"),
    ("/footer-comments", "post"),
)


def _resolve(spec: JSON, node: JSON) -> JSON:
    """Follow a local `$ref` (`#/components/...`) to the object it names, in the same copy."""
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _overlay_v2(spec: JSON) -> None:
    for path, method in _BODY_ONE_OF:
        request_body = _resolve(spec, spec["paths"][path][method]["requestBody"])
        properties = _resolve(spec, request_body["content"]["application/json"]["schema"])[
            "properties"
        ]
        # C1: both members are objects without required properties, so every body (the canonical
        # `{"representation": "storage", "value": ...}` too) is "valid under each of" them.
        properties["body"] = {"anyOf": properties["body"]["oneOf"]}


@cache
def v2_spec() -> Spec:
    """Confluence Cloud REST v2 with the overlay above; loaded once per process."""
    return Spec(load_api(read_spec("confluence_v2.json"), server=V2_PREFIX, overlay=_overlay_v2))


@cache
def v1_spec() -> Spec:
    """Confluence Cloud REST v1 (2021 snapshot), for the label write v2 lacks. Its paths already
    carry `/wiki/rest/api`; the file's `//your-domain...` server would not match a loopback sandbox."""
    return Spec(load_api(read_spec("confluence_v1_2021.json"), server="/"))


def spec_of(version: ApiVersion) -> Spec:
    return v2_spec() if version == "v2" else v1_spec()


def version_of(path: str) -> ApiVersion | None:
    """Which document a request path belongs to (None: neither API)."""
    if path.startswith(V2_PREFIX + "/"):
        return "v2"
    if path.startswith(V1_PREFIX + "/"):
        return "v1"
    return None


# -- storage format -------------------------------------------------------------------------------

#: HTML's named entities (`&nbsp;`, `&mdash;`...) are allowed in storage format (Confluence's own
#: storage output uses them); XML knows only five, so they are declared for the parser.
_ENTITIES = "".join(
    f'<!ENTITY {name} "&#{code};">'
    for name, code in sorted(html.entities.name2codepoint.items())
    if name not in {"amp", "lt", "gt", "quot", "apos"}
)
_PROLOGUE = f"<!DOCTYPE storage [{_ENTITIES}]>\n<storage>"
_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)


def storage_problem(value: str) -> str | None:
    """Why `value` is not a well-formed storage-format (XHTML) fragment, or None.

    Checked: tags closed and nested, attributes quoted, entities known, no DOCTYPE of its own.
    `ac:`/`ri:` prefixes are names like any other here (Confluence binds them itself).
    """
    if _DOCTYPE.search(value):
        return "a storage body cannot carry a DOCTYPE"
    parser = xml.parsers.expat.ParserCreate()
    try:
        parser.Parse(_PROLOGUE, False)
        first_line = parser.CurrentLineNumber
        parser.Parse(value, False)
        parser.Parse("</storage>", True)
    except xml.parsers.expat.ExpatError as error:
        line = max(1, error.lineno - first_line + 1)
        return f"Error parsing xhtml: {xml.parsers.expat.ErrorString(error.code)} (line {line})"
    return None
