"""Jira's OpenAPI document (`jira_platform_v3.json`), loaded leniently, and the checks run on every call.

INTEGRATION_NOTES §2 lists the vendor defects; each relaxation below names the defect it answers. The
saved file is never edited: the overlay is applied to a fresh copy at load time (§7.2).
"""

from __future__ import annotations

import copy
import json
import re
import time
import warnings
from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast

import jsonschema
from openapi_core import Config, OpenAPI
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.testing import MockRequest, MockResponse
from werkzeug.datastructures import ImmutableMultiDict

from sandbox.specs import specs_dir

JSON = dict[str, Any]

# J1: Jira timestamps are `2021-01-17T12:34:00.000+0000` (no colon in the offset); accept both forms.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$")


def _lenient_date_time(value: Any) -> bool:
    return not isinstance(value, str) or bool(_DATE_TIME.match(value))


@dataclass(frozen=True)
class Violation:
    """One broken rule: the operation (or path), the kind of rule, and the details."""

    operation: str
    kind: str
    detail: str
    at: float = field(default_factory=time.time, compare=False)

    def __str__(self) -> str:
        return f"{self.operation}: {self.kind}: {self.detail}"


def _overlay(spec: JSON) -> JSON:
    spec = copy.deepcopy(spec)
    # Loading rule (§2): a relative server matches any host and port; the aiohttp adapter drops the port.
    spec["servers"] = [{"url": "/"}]
    schemas = spec["components"]["schemas"]
    # J3: real changelogs carry null `from`/`to` (and their *String twins) when a field was empty.
    for name in ("from", "to", "fromString", "toString"):
        schemas["ChangeDetails"]["properties"][name]["nullable"] = True
    # J4: the spec's own serverInfo example has `defaultLocale`, outside `additionalProperties: false`.
    schemas["ServerInformation"]["additionalProperties"] = True
    # R1: getRemoteIssueLinks declares one RemoteIssueLink, but Jira (and the `jira` library's
    # `remote_links()`) answer a JSON array of them when no globalId is given.
    get_links = spec["paths"]["/rest/api/3/issue/{issueIdOrKey}/remotelink"]["get"]
    get_links["responses"]["200"]["content"]["application/json"]["schema"] = {
        "type": "array",
        "items": {"$ref": "#/components/schemas/RemoteIssueLink"},
    }
    # A1: addAttachment declares its multipart body as an array of Spring `MultipartFile` objects (a
    # Java server type no form can match: openapi-core reads a form as an object). The operation's
    # own text says what is sent: a multipart form whose file parts are all named `file`.
    attach = spec["paths"]["/rest/api/3/issue/{issueIdOrKey}/attachments"]["post"]
    attach["requestBody"]["content"]["multipart/form-data"]["schema"] = {
        "type": "object",
        "required": ["file"],
        "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}},
    }
    return spec


@cache
def jira_api() -> OpenAPI:
    """The Jira v3 spec with the overlay above; loaded once per process (about 2.5 MB of JSON)."""
    raw = json.loads((specs_dir() / "jira_platform_v3.json").read_text(encoding="utf-8"))
    # G1: the document fails its own meta-schema (a `default` outside its enum), so skip that check.
    config = Config(
        spec_validator_cls=None,
        extra_format_validators={"date-time": _lenient_date_time},
    )
    return OpenAPI.from_dict(_overlay(raw), config=config)


@cache
def adf_validator() -> jsonschema.Draft4Validator:
    """The Atlassian Document Format schema (draft-04): the v3 spec leaves ADF fields untyped (§1.1)."""
    raw = json.loads(
        (specs_dir() / "atlassian_adf_schema" / "full.json").read_text(encoding="utf-8")
    )
    return jsonschema.Draft4Validator(raw)


def spec_path(path: str) -> str:
    """The v3 path an incoming path is checked against.

    Relaxation V2 (§1.1, the only one for v2 traffic): there is no Jira v2 spec; v2 "offers the same
    collection of operations" as v3, so `/rest/api/2/...` is checked against the `/rest/api/3/...`
    operation. What differs (plain strings where v3 wants ADF) is checked by `text_field_violations`.
    """
    if path.startswith("/rest/api/2/"):
        return "/rest/api/3/" + path[len("/rest/api/2/") :]
    return path


@dataclass(frozen=True)
class Operation:
    operation_id: str
    deprecated: bool
    statuses: frozenset[str]


def find_operation(method: str, path: str) -> Operation | None:
    api = jira_api()
    try:
        found = APICallPathFinder(api.spec).find(method.lower(), spec_path(path))
    except Exception:  # PathNotFound / OperationNotFound: an undocumented call
        return None
    op = found.operation
    return Operation(
        operation_id=str((op / "operationId").read_value()),
        deprecated=bool((op / "deprecated").read_value()) if "deprecated" in op else False,
        statuses=frozenset(str(code) for code in (op / "responses").keys()),  # noqa: SIM118 - a spec path iterates paths, not keys
    )


def _mock_request(
    method: str, path: str, query: list[tuple[str, str]], body: bytes | None, content_type: str
) -> MockRequest:
    return MockRequest(
        "http://127.0.0.1",
        method.lower(),
        spec_path(path),
        # A multidict keeps repeated query keys (`fields=a&fields=b`); the annotation says dict.
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


def request_problem(
    method: str, path: str, query: list[tuple[str, str]], body: bytes | None, content_type: str
) -> str | None:
    """What openapi-core finds wrong with the request (path, method, query, body), or None."""
    try:
        with warnings.catch_warnings():
            # openapi-core warns on the spec's OAuth2 scheme it cannot check; the sandbox checks
            # credentials itself (Basic on Cloud, Basic or Bearer PAT on Data Center).
            warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
            jira_api().validate_request(_mock_request(method, path, query, body, content_type))
    except Exception as exc:  # openapi-core raises its own error hierarchy
        return _errors(exc)
    return None


def response_problem(  # noqa: PLR0917 - mirrors request_problem plus the response
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
        jira_api().validate_response(request, response)
    except Exception as exc:
        return _errors(exc)
    return None


#: System fields whose v3 value is an ADF document and whose v2 value is a plain string (v3 spec
#: narrative, §1.1); `textarea` custom fields and comment bodies follow the same rule.
TEXT_FIELDS = ("description", "environment")


def rich_text_problem(api_version: str, value: Any) -> str | None:
    """What is wrong with a rich-text value: v3 wants an ADF document (checked against the ADF
    schema), v2 a plain string. None clears a field and is fine."""
    if value is None:
        return None
    if api_version == "2":
        if not isinstance(value, str):
            return f"v2 wants a plain string, got {type(value).__name__}"
        return None
    errors = sorted(adf_validator().iter_errors(value), key=str)
    if errors:
        return f"not an ADF document: {errors[0].message}"
    return None


def text_field_violations(
    api_version: str, fields: JSON, rich_fields: tuple[str, ...] = TEXT_FIELDS
) -> list[str]:
    """ADF for v3 rich-text fields; plain strings for v2 (`rich_fields`: the site's rich fields)."""
    found: list[str] = []
    for name in rich_fields:
        if name in fields:
            problem = rich_text_problem(api_version, fields[name])
            if problem:
                found.append(f"fields.{name}: {problem}")
    return found
