"""Vendor OpenAPI documents loaded leniently, and the checks a sandbox runs on every call with them.

What is the same for Jira, Confluence and PagerDuty (INTEGRATION_NOTES §2 "Loading rules", §7.2,
§7.3) lives here: reading a document from the specs folder, applying the sandbox's overlay to a copy
(the saved file is never edited), a relative `servers` entry, finding the operation of a call,
validating the call and the sandbox's own answer with openapi-core, and wording what openapi-core
finds. Each relaxation of a vendor's document, with the defect it answers, stays in that vendor's
`contract.py`; so do the checks the schemas cannot express.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from openapi_core import Config, OpenAPI
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.testing import MockRequest, MockResponse
from werkzeug.datastructures import ImmutableMultiDict

from sandbox.specs import specs_dir

JSON = dict[str, Any]
FormatValidator = Callable[[Any], bool]

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$")


def lenient_date_time(value: Any) -> bool:
    """RFC 3339 `date-time`, also with a colon-less offset (`2021-01-17T12:34:00.000+0000`, the
    form of Jira's timestamps and of Python's `%z`). A sandbox opts in with its own reason."""
    return not isinstance(value, str) or bool(_DATE_TIME.match(value))


def read_spec(name: str) -> JSON:
    """The saved vendor document `name` of the specs folder, as is."""
    return cast("JSON", json.loads((specs_dir() / name).read_text(encoding="utf-8")))


def load_api(
    document: JSON,
    *,
    server: str,
    overlay: Callable[[JSON], None] | None = None,
    date_time: FormatValidator | None = None,
) -> OpenAPI:
    """An openapi-core API over a copy of `document` with the sandbox's `overlay` applied.

    `server`: the path prefix the spec's paths hang under. A relative server matches any host and
    port; an absolute one never matches through the aiohttp adapter, which drops the port (§2).
    `date_time`: a `date-time` format check replacing the strict one (J1 and the like).
    """
    spec = copy.deepcopy(document)
    spec["servers"] = [{"url": server}]
    if overlay is not None:
        overlay(spec)
    config = Config(
        # G1: Jira's, Confluence's and PagerDuty REST's documents fail their own meta-schema (a
        # `default` outside its enum or type); the check is skipped for every document alike.
        spec_validator_cls=None,
        extra_format_validators={"date-time": date_time} if date_time else None,
    )
    return OpenAPI.from_dict(spec, config=config)


@dataclass(frozen=True)
class Operation:
    """What a sandbox needs to know about the operation a call was matched to."""

    operation_id: str
    deprecated: bool
    statuses: frozenset[str]
    """The documented response statuses."""
    bodies: frozenset[str]
    """The statuses whose documented response has content (others declare `content: {}` or none)."""
    query: frozenset[str]
    """The query parameters the operation documents (on the path or the operation)."""
    headers: frozenset[str]
    """The header parameters it declares, lower case (e.g. PagerDuty's `from`). OAS 3.0 says header
    parameters named Accept, Content-Type or Authorization "SHALL be ignored", and openapi-core
    ignores them: a sandbox checks those by hand."""


@dataclass(frozen=True)
class Call:
    """One request as openapi-core checks it: `path` without the query string (the finder fails
    to match with one, §2), `query` as pairs (repeated keys kept), `headers` only when the sandbox
    wants them checked against the operation's header parameters."""

    method: str
    path: str
    query: Sequence[tuple[str, str]] = ()
    body: bytes | None = None
    content_type: str = ""
    headers: Sequence[tuple[str, str]] | None = None

    def mock_request(self) -> MockRequest:
        return MockRequest(
            "http://127.0.0.1",  # any host: the servers are relative (see `load_api`)
            self.method.lower(),
            self.path,
            # A multidict keeps repeated query keys (`fields=a&fields=b`); the annotation says dict.
            args=cast("dict[str, Any]", ImmutableMultiDict(list(self.query))),
            headers=None if self.headers is None else cast("dict[str, Any]", list(self.headers)),
            data=self.body if self.body else None,
            content_type=self.content_type or "application/json",
        )


class Spec:
    """One loaded vendor document and the checks of a call against it."""

    def __init__(self, api: OpenAPI) -> None:
        self.api = api
        # Matching a path walks every path template of the document: remember the answers.
        self.find = lru_cache(maxsize=4096)(self._find)

    def _find(self, method: str, path: str) -> Operation | None:
        """The operation of `method path` (no query string), or None for an undocumented call."""
        try:
            found = APICallPathFinder(self.api.spec).find(method.lower(), path)
        except Exception:  # PathNotFound / OperationNotFound / ServerNotFound: undocumented
            return None
        op = found.operation
        parameters = [
            ((p / "in").read_value(), str((p / "name").read_value()))
            for source in (found.path, op)
            if "parameters" in source
            for p in source / "parameters"
        ]
        responses = op / "responses"
        return Operation(
            operation_id=str((op / "operationId").read_value()),
            deprecated=bool((op / "deprecated").read_value()) if "deprecated" in op else False,
            # `.keys()`: iterating a SchemaPath yields child paths (`…#responses#200`), not codes.
            statuses=frozenset(str(code) for code in responses.keys()),  # noqa: SIM118
            bodies=frozenset(
                str(code)
                for code, response in responses.items()
                if "content" in response and len(list((response / "content").keys())) > 0
            ),
            query=frozenset(name for where, name in parameters if where == "query"),
            headers=frozenset(name.lower() for where, name in parameters if where == "header"),
        )

    def request_problem(self, call: Call) -> str | None:
        """What openapi-core finds wrong with the request (path, query, headers, body), or None."""
        try:
            with warnings.catch_warnings():
                # openapi-core warns on the OAuth2 schemes it cannot check; the sandboxes check
                # credentials themselves.
                warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
                self.api.validate_request(call.mock_request())
        except Exception as exc:  # openapi-core raises its own error hierarchy
            return problem_text(exc)
        return None

    def response_problem(self, call: Call, status: int, body: bytes) -> str | None:
        """What openapi-core finds wrong with the sandbox's own (JSON) answer to `call`, or None."""
        response = MockResponse(body, status_code=status, content_type="application/json")
        try:
            self.api.validate_response(call.mock_request(), response)
        except Exception as exc:
            return problem_text(exc)
        return None


def problem_text(exc: BaseException) -> str:
    """An openapi-core error with the schema errors behind it, in one line."""
    causes = [str(exc)]
    inner = getattr(exc, "__cause__", None)
    for schema_error in getattr(inner, "schema_errors", ()) or ():
        causes.append(str(getattr(schema_error, "message", schema_error)))
    if inner is not None and not getattr(inner, "schema_errors", None):
        causes.append(str(inner))
    return "; ".join(causes)
