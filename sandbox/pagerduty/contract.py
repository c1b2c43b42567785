"""PagerDuty's OpenAPI documents (REST v2 and Events v2), loaded leniently, and the checks run on
every call the sandbox receives.

INTEGRATION_NOTES §2 lists the vendor defects (P1-P4, E1); each relaxation below names the defect it
answers, and the ones found while building this sandbox (P5, P6) are evidenced the same way: the
spec's own example fails its own schema. The saved files are never edited: the overlay is applied to
a fresh copy at load time (§7.2). Loading, finding the operation and validating a call are
`sandbox.openapi`'s, alike for every vendor; the `Violation` record is `sandbox.http`'s.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, Literal

from sandbox.http import Violation
from sandbox.openapi import JSON, Spec, lenient_date_time, load_api, read_spec

__all__ = [
    "EVENTS_FILE",
    "EVENTS_PREFIX",
    "REST_FILE",
    "Api",
    "Violation",
    "api_of",
    "events_spec",
    "is_email",
    "rest_spec",
    "spec_of",
]

Api = Literal["rest", "events"]

#: The Events API's paths, as the sandbox serves them (the spec's server is `…/v2`).
EVENTS_PREFIX = "/v2/"
REST_FILE = "pagerduty_rest_v2.json"
EVENTS_FILE = "pagerduty_events_v2.json"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_email(value: str) -> bool:
    return bool(_EMAIL.match(value))


def _strip_read_only(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("readOnly", None)
        for value in node.values():
            _strip_read_only(value)
    elif isinstance(node, list):
        for value in node:
            _strip_read_only(value)


def _rest_overlay(spec: JSON) -> None:
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


@cache
def rest_spec() -> Spec:
    """REST API v2 (`pagerduty_rest_v2.json`, 2.8 MB) with the overlay above; loaded once."""
    return Spec(
        load_api(
            read_spec(REST_FILE),
            server="/",
            overlay=_rest_overlay,
            # The `pagerduty` library formats times with `%z` (`+0000`, no colon): accept both.
            date_time=lenient_date_time,
        )
    )


@cache
def events_spec() -> Spec:
    """Events API v2 (`pagerduty_events_v2.json`); it passes its own meta-schema (§2, G1). Its
    paths are `/enqueue` and `/change/enqueue` under `/v2` (§2, loading rules)."""
    return Spec(
        load_api(
            read_spec(EVENTS_FILE),
            server=EVENTS_PREFIX.rstrip("/"),
            date_time=lenient_date_time,
        )
    )


def api_of(path: str) -> Api:
    """Which API a path belongs to: one server answers both (the Events paths are under `/v2/`)."""
    return "events" if path.startswith(EVENTS_PREFIX) else "rest"


def spec_of(path: str) -> Spec:
    """The document a request path is checked against."""
    return events_spec() if api_of(path) == "events" else rest_spec()
