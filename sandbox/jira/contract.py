"""Jira's OpenAPI document (`jira_platform_v3.json`), loaded leniently, and the checks run on every call.

INTEGRATION_NOTES §2 lists the vendor defects; each relaxation below names the defect it answers. The
saved file is never edited: the overlay is applied to a fresh copy at load time (§7.2). Loading,
finding the operation and validating a call are `sandbox.openapi`'s, alike for every vendor.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema

from sandbox.http import Violation
from sandbox.openapi import JSON, Spec, lenient_date_time, load_api, read_spec
from sandbox.specs import specs_dir

__all__ = [
    "TEXT_FIELDS",
    "Violation",
    "adf_validator",
    "jira_spec",
    "rich_text_problem",
    "spec_path",
    "text_field_violations",
]


def _overlay(spec: JSON) -> None:
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


@cache
def jira_spec() -> Spec:
    """The Jira v3 spec with the overlay above; loaded once per process (about 2.5 MB of JSON)."""
    return Spec(
        load_api(
            read_spec("jira_platform_v3.json"),
            server="/",  # the spec's paths carry `/rest/api/3`
            overlay=_overlay,
            # J1: Jira timestamps are `2021-01-17T12:34:00.000+0000` (no colon in the offset).
            date_time=lenient_date_time,
        )
    )


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
