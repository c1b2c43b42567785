"""Confluence's OpenAPI documents, loaded leniently, and the checks run on every call.

Two documents: `confluence_v2.json` (REST v2, `/wiki/api/v2`, what the bot speaks) and the stale
`confluence_v1_2021.json` (REST v1, `/wiki/rest/api`), needed only because v2 has no operation that
writes a label (INTEGRATION_NOTES §6, §8). Each relaxation below names the defect it answers
(INTEGRATION_NOTES §2); the saved files are never edited: the overlay is applied to a fresh copy at
load time (§7.2).

Storage-format bodies are XHTML fragments; the schemas type them as plain strings, so
`storage_problem` checks that they are well-formed (Confluence answers 400 "Error parsing xhtml"
otherwise).

The small `Violation` record is copied from `sandbox/jira/contract.py` (the Confluence sandbox does
not import the Jira one).
"""

from __future__ import annotations

import copy
import html.entities
import json
import re
import time
import warnings
import xml.parsers.expat
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, cast

from openapi_core import Config, OpenAPI
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.testing import MockRequest, MockResponse
from werkzeug.datastructures import ImmutableMultiDict

from sandbox.specs import specs_dir

JSON = dict[str, Any]
ApiVersion = Literal["v1", "v2"]

V2_PREFIX = "/wiki/api/v2"
V1_PREFIX = "/wiki/rest/api"

#: Operations whose request body is `oneOf[<X>BodyWrite, <X>NestedBodyWrite]` (C1).
_BODY_ONE_OF = (
    ("/pages", "post"),
    ("/pages/{id}", "put"),
    ("/footer-comments", "post"),
)


@dataclass(frozen=True)
class Violation:
    """One broken rule: the operation (or path), the kind of rule, and the details."""

    operation: str
    kind: str
    detail: str
    at: float = field(default_factory=time.time, compare=False)

    def __str__(self) -> str:
        return f"{self.operation}: {self.kind}: {self.detail}"


def _resolve(spec: JSON, node: JSON) -> JSON:
    """Follow a local `$ref` (`#/components/...`) to the object it names, in the same copy."""
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _overlay_v2(spec: JSON) -> JSON:
    spec = copy.deepcopy(spec)
    # Loading rule (§2): a relative server matches any host and port; the aiohttp adapter drops the port.
    spec["servers"] = [{"url": V2_PREFIX}]
    for path, method in _BODY_ONE_OF:
        request_body = _resolve(spec, spec["paths"][path][method]["requestBody"])
        properties = _resolve(spec, request_body["content"]["application/json"]["schema"])[
            "properties"
        ]
        # C1: both members are objects without required properties, so every body (the canonical
        # `{"representation": "storage", "value": ...}` too) is "valid under each of" them.
        properties["body"] = {"anyOf": properties["body"]["oneOf"]}
    return spec


def _overlay_v1(spec: JSON) -> JSON:
    spec = copy.deepcopy(spec)
    # Loading rule (§2): v1 paths already carry `/wiki/rest/api`; the file's `//your-domain...` server
    # would not match a loopback sandbox.
    spec["servers"] = [{"url": "/"}]
    return spec


def _load(name: str) -> JSON:
    return cast("JSON", json.loads((specs_dir() / name).read_text(encoding="utf-8")))


# G1: both documents fail their own meta-schema (a `default` outside its enum), so skip that check.
_CONFIG = Config(spec_validator_cls=None)


@cache
def v2_api() -> OpenAPI:
    """Confluence Cloud REST v2 with the overlay above; loaded once per process."""
    return OpenAPI.from_dict(_overlay_v2(_load("confluence_v2.json")), config=_CONFIG)


@cache
def v1_api() -> OpenAPI:
    """Confluence Cloud REST v1 (2021 snapshot), for the label write v2 lacks."""
    return OpenAPI.from_dict(_overlay_v1(_load("confluence_v1_2021.json")), config=_CONFIG)


def api_of(version: ApiVersion) -> OpenAPI:
    return v2_api() if version == "v2" else v1_api()


def version_of(path: str) -> ApiVersion | None:
    """Which document a request path belongs to (None: neither API)."""
    if path.startswith(V2_PREFIX + "/"):
        return "v2"
    if path.startswith(V1_PREFIX + "/"):
        return "v1"
    return None


@dataclass(frozen=True)
class Operation:
    version: ApiVersion
    operation_id: str
    deprecated: bool
    parameters: frozenset[str]
    """Names of the query parameters the operation documents (unknown ones are reported)."""
    bodies: frozenset[str]
    """Statuses whose documented response has a JSON body (C2: the others declare `content: {}`)."""


@cache
def find_operation(version: ApiVersion, method: str, path: str) -> Operation | None:
    """The operation of `path` (without its query string), or None when the spec has none."""
    api = api_of(version)
    try:
        found = APICallPathFinder(api.spec).find(method.lower(), "http://127.0.0.1" + path)
    except Exception:  # PathNotFound / OperationNotFound: an undocumented call
        return None
    op = found.operation
    query = {
        str((p / "name").read_value())
        for source in (op, found.path)
        if "parameters" in source
        for p in source / "parameters"
        if (p / "in").read_value() == "query"
    }
    bodies = frozenset(
        str(code)
        for code, response in (op / "responses").items()
        if "content" in response and len(list((response / "content").keys())) > 0
    )
    return Operation(
        version=version,
        operation_id=str((op / "operationId").read_value()),
        deprecated=bool((op / "deprecated").read_value()) if "deprecated" in op else False,
        parameters=frozenset(query),
        bodies=bodies,
    )


def _mock_request(
    method: str, path: str, query: list[tuple[str, str]], body: bytes | None, content_type: str
) -> MockRequest:
    return MockRequest(
        "http://127.0.0.1",
        method.lower(),
        path,
        # A multidict keeps repeated query keys (`keys=A&keys=B`); the annotation says dict.
        args=cast("dict[str, Any]", ImmutableMultiDict(query)),
        data=body if body else None,
        content_type=content_type or "application/json",
    )


def _errors(exc: BaseException) -> str:
    causes = [str(exc)]
    inner = getattr(exc, "__cause__", None)
    for schema_error in getattr(inner, "schema_errors", ()) or ():
        causes.append(str(getattr(schema_error, "message", schema_error)))
    if inner is not None and not getattr(inner, "schema_errors", None):
        causes.append(str(inner))
    return "; ".join(causes)


def request_problem(  # noqa: PLR0917 - one request's parts
    version: ApiVersion,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    body: bytes | None,
    content_type: str,
) -> str | None:
    """What openapi-core finds wrong with the request (path, method, query, body), or None."""
    try:
        with warnings.catch_warnings():
            # openapi-core cannot check the OAuth2 alternative of each operation's security; the
            # sandbox checks Basic credentials itself.
            warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
            api_of(version).validate_request(_mock_request(method, path, query, body, content_type))
    except Exception as exc:  # openapi-core raises its own error hierarchy
        return _errors(exc)
    return None


def response_problem(  # noqa: PLR0917 - mirrors request_problem plus the response
    version: ApiVersion,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    body: bytes | None,
    content_type: str,
    status: int,
    response_body: bytes,
) -> str | None:
    """What openapi-core finds wrong with the sandbox's own answer, or None."""
    request = _mock_request(method, path, query, body, content_type)
    response = MockResponse(response_body, status_code=status, content_type="application/json")
    try:
        api_of(version).validate_response(request, response)
    except Exception as exc:
        return _errors(exc)
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
