"""PagerDuty's OpenAPI documents (REST v2 and Events v2), loaded leniently, and the checks run on
every call the sandbox receives.

INTEGRATION_NOTES §2 lists the vendor defects (P1-P4, E1); each relaxation below names the defect it
answers, and the ones found while building this sandbox (P5, P6) are evidenced the same way: the
spec's own example fails its own schema. The saved files are never edited: the overlay is applied to
a fresh copy at load time (§7.2).
"""

from __future__ import annotations

import copy
import json
import re
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, cast

from openapi_core import Config, OpenAPI
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.testing import MockRequest, MockResponse
from werkzeug.datastructures import ImmutableMultiDict

from sandbox.specs import specs_dir

JSON = dict[str, Any]
Api = Literal["rest", "events"]

#: The Events API's paths, as the sandbox serves them (the spec's server is `…/v2`).
EVENTS_PREFIX = "/v2/"

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _lenient_date_time(value: Any) -> bool:
    # The `pagerduty` library formats times with `%z` (`+0000`, no colon): accept both offsets.
    return not isinstance(value, str) or bool(_DATE_TIME.match(value))


def is_email(value: str) -> bool:
    return bool(_EMAIL.match(value))


@dataclass(frozen=True)
class Violation:
    """One broken rule: the operation (or path), the kind of rule, and the details.

    A copy of `sandbox.jira.contract.Violation` (six lines) rather than an import, so the two
    sandboxes do not depend on each other.
    """

    operation: str
    kind: str
    detail: str
    at: float = field(default_factory=time.time, compare=False)

    def __str__(self) -> str:
        return f"{self.operation}: {self.kind}: {self.detail}"


def _strip_read_only(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("readOnly", None)
        for value in node.values():
            _strip_read_only(value)
    elif isinstance(node, list):
        for value in node:
            _strip_read_only(value)


def _rest_overlay(spec: JSON) -> JSON:
    spec = copy.deepcopy(spec)
    # Loading rule (§2): a relative server matches any host and port; the aiohttp adapter drops the port.
    spec["servers"] = [{"url": "/"}]
    schemas = spec["components"]["schemas"]
    # P1: every *Reference inherits `id`/`type` marked readOnly while `Reference` requires them, so a
    # request naming a service fails (the spec's own createIncident example does). readOnly only
    # restricts requests, so dropping it everywhere leaves response checks unchanged.
    _strip_read_only(spec)
    # P2: `IncidentBody.details` is typed object; the createIncident example and the API use a string.
    schemas["IncidentBody"]["properties"]["details"] = {
        "anyOf": [{"type": "object"}, {"type": "string"}]
    }
    # P3: `resolved_at` is null until an incident is resolved (the spec's own incident examples).
    incident = schemas["Incident"]["allOf"][1]["properties"]
    incident["resolved_at"]["nullable"] = True
    # P5 (found here): `AcknowledgeLogEntry` narrows `type` to `acknowledgement_log_entry`, which its
    # base `LogEntry` enum does not allow, so no acknowledge entry can validate; the base enum, the
    # `LogEntryReference` enum and the API say `acknowledge_log_entry`.
    for part in schemas["AcknowledgeLogEntry"]["allOf"]:
        if "properties" in part and "type" in part["properties"]:
            part["properties"]["type"]["enum"] = ["acknowledge_log_entry"]
    # P6 (found here): `Channel` is a `oneOf` of five objects, four without required properties, so
    # every log entry's channel (the listIncidentLogEntries example's too) is "valid under each of"
    # them. Treat it as `anyOf`, as P3 does for `alert_grouping_parameters`.
    schemas["Channel"]["anyOf"] = schemas["Channel"].pop("oneOf")
    return spec


def _events_overlay(spec: JSON) -> JSON:
    spec = copy.deepcopy(spec)
    # Loading rule (§2): the Events spec's paths are `/enqueue` and `/change/enqueue` under `/v2`.
    spec["servers"] = [{"url": EVENTS_PREFIX.rstrip("/")}]
    return spec


def _load(name: str) -> JSON:
    return cast(JSON, json.loads((specs_dir() / name).read_text(encoding="utf-8")))


_CONFIG = Config(
    # G1: the REST document fails its own meta-schema (a `default` outside its type); skip that check.
    spec_validator_cls=None,
    extra_format_validators={"date-time": _lenient_date_time},
)


@cache
def rest_api() -> OpenAPI:
    """REST API v2 (`pagerduty_rest_v2.json`, 2.8 MB) with the overlay above; loaded once."""
    return OpenAPI.from_dict(_rest_overlay(_load("pagerduty_rest_v2.json")), config=_CONFIG)


@cache
def events_api() -> OpenAPI:
    """Events API v2 (`pagerduty_events_v2.json`); it passes its own meta-schema (§2, G1)."""
    return OpenAPI.from_dict(_events_overlay(_load("pagerduty_events_v2.json")), config=_CONFIG)


def api_of(path: str) -> Api:
    """Which API a path belongs to: one server answers both (the Events paths are under `/v2/`)."""
    return "events" if path.startswith(EVENTS_PREFIX) else "rest"


def _spec(api: Api) -> OpenAPI:
    return events_api() if api == "events" else rest_api()


@dataclass(frozen=True)
class Operation:
    api: Api
    operation_id: str
    deprecated: bool
    statuses: frozenset[str]
    headers: frozenset[str]
    """The header parameters the operation declares (lower case), e.g. `from`. OAS 3.0 says header
    parameters named Accept, Content-Type or Authorization "SHALL be ignored", and openapi-core
    ignores them: the sandbox checks those three by hand."""


def find_operation(method: str, path: str) -> Operation | None:
    """The spec operation for `method path` (no query string, §2), or None for an undocumented call."""
    api = api_of(path)
    spec = _spec(api)
    try:
        found = APICallPathFinder(spec.spec).find(method.lower(), path)
    except Exception:  # PathNotFound / OperationNotFound / ServerNotFound: an undocumented call
        return None
    op = found.operation
    headers: set[str] = set()
    for source in (found.path, op):
        if "parameters" not in source:
            continue
        for param in source / "parameters":
            if (param / "in").read_value() == "header":
                headers.add(str((param / "name").read_value()).lower())
    return Operation(
        api=api,
        operation_id=str((op / "operationId").read_value()),
        deprecated=bool((op / "deprecated").read_value()) if "deprecated" in op else False,
        # `.keys()`: iterating a SchemaPath yields child paths (`paths#/…#responses#200`), not codes.
        statuses=frozenset(str(code) for code in (op / "responses").keys()),  # noqa: SIM118
        headers=frozenset(headers),
    )


def _mock_request(  # noqa: PLR0917 - one request's parts
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    body: bytes | None,
    content_type: str,
) -> MockRequest:
    return MockRequest(
        "https://127.0.0.1",
        method.lower(),
        path,
        # A multidict keeps repeated query keys (`statuses[]=a&statuses[]=b`); the annotation says dict.
        args=cast("dict[str, Any]", ImmutableMultiDict(list(query))),
        headers=cast("dict[str, Any]", list(headers)),
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
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    body: bytes | None,
    content_type: str,
) -> str | None:
    """What openapi-core finds wrong with the request (path, query, headers, body), or None."""
    request = _mock_request(method, path, query, headers, body, content_type)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            _spec(api_of(path)).validate_request(request)
    except Exception as exc:  # openapi-core raises its own error hierarchy
        return _errors(exc)
    return None


def response_problem(  # noqa: PLR0917 - mirrors request_problem plus the response
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    body: bytes | None,
    content_type: str,
    status: int,
    response_body: bytes,
) -> str | None:
    """What openapi-core finds wrong with the sandbox's own answer, or None."""
    request = _mock_request(method, path, query, headers, body, content_type)
    response = MockResponse(response_body, status_code=status, content_type="application/json")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            _spec(api_of(path)).validate_response(request, response)
    except Exception as exc:
        return _errors(exc)
    return None
