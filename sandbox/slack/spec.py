"""Slack's per-method specs (`slack_api_ref/docs.slack.dev/methods/<m>.json`), loaded lazily and cached.

SLACK_NOTES §2.1 describes the fields; §2.2 lists the errors every method can return.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sandbox.specs import specs_dir

#: SLACK_NOTES §2.2: errors every scraped method page lists, plus `invalid_auth` (documented for all).
COMMON_ERRORS: frozenset[str] = frozenset(
    {
        "ratelimited",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "not_allowed_token_type",
        "org_login_required",
        "ekm_access_denied",
        "enterprise_is_restricted",
        "is_bot",
        "access_denied",
        "accesslimited",
        "fatal_error",
        "request_timeout",
        "service_unavailable",
        "team_added_to_org",
        "invalid_arg_name",
        "invalid_array_arg",
        "invalid_charset",
        "invalid_form_data",
        "invalid_post_type",
        "missing_post_type",
        "deprecated_endpoint",
        "method_deprecated",
        "two_factor_setup_required",
        "unknown_method",
        "invalid_auth",
    }
)

#: Relaxation, kept explicit: `invalid_arguments` is Slack's generic argument-validation answer
#: (SLACK_NOTES §3.3; `examples.error` of views.open/push/publish and conversations.setTopic) but is
#: absent from most `errors` lists. The sandbox answers it for missing required arguments and
#: invalid views.
GENERIC_ARGUMENT_ERROR = "invalid_arguments"

#: Rate tiers in requests per minute (SLACK_NOTES §8.1: "Tier 1: 1+ per minute; Tier 2: 20+; ...").
#: t5 ("Special") is handled per method; this is the fallback for special methods without a rule.
TIER_PER_MINUTE: dict[str, int] = {"t1": 1, "t2": 20, "t3": 50, "t4": 100, "t5": 600}


@dataclass(frozen=True)
class MethodSpec:
    """What `methods/<name>.json` says about one Web API method."""

    name: str
    http_method: str
    tier: str
    bot_scopes: tuple[str, ...]
    json_supported: bool
    arg_names: frozenset[str]
    required: tuple[str, ...]
    errors: frozenset[str]
    example_error: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def allowed_errors(self) -> frozenset[str]:
        """Every code this method may answer: its own, the common set and the documented extras."""
        extra = {GENERIC_ARGUMENT_ERROR}
        if self.example_error:
            extra.add(self.example_error)
        return self.errors | COMMON_ERRORS | extra


def methods_dir() -> Path:
    return specs_dir() / "slack_api_ref" / "docs.slack.dev" / "methods"


@cache
def method_spec(name: str) -> MethodSpec | None:
    """The spec of `name`, or None when Slack has no such method. Cached per process."""
    if not name or "/" in name or name.startswith("."):
        return None
    path = methods_dir() / f"{name}.json"
    if not path.is_file():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    args = raw.get("args") or {}
    example = (raw.get("examples") or {}).get("error") or {}
    example_error = (
        (example.get("example") or {}).get("error") if isinstance(example, dict) else None
    )
    return MethodSpec(
        name=name,
        http_method=str(raw.get("http_method", "POST")).upper(),
        tier=str(raw.get("rate_limits") or "t3"),
        bot_scopes=tuple((raw.get("scope") or {}).get("bot") or ()),
        json_supported=bool(raw.get("json_input_supported")),
        arg_names=frozenset((args.get("properties") or {}).keys()),
        required=tuple(args.get("required") or ()),
        errors=frozenset((raw.get("errors") or {}).keys()),
        example_error=example_error,
        raw=raw,
    )
