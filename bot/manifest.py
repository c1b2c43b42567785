"""The Slack app manifest: where it is, what scopes it asks for, and the rules Slack's docs add.

Two identical copies exist on purpose: ``slack-manifest.yaml`` at the repository root is the one
people paste into api.slack.com; ``bot/slack-manifest.yaml`` is shipped as package data so that an
installed bot (a wheel, the Docker image) can always read it. ``tests/config`` fails when they
differ. :func:`manifest_path` picks ``$FIREFIGHTER_MANIFEST`` when set, else the packaged copy.
"""

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

#: The packaged copy (identical to the repository root's ``slack-manifest.yaml``).
PACKAGED_MANIFEST_PATH = Path(__file__).with_name("slack-manifest.yaml")
MANIFEST_ENV_VAR = "FIREFIGHTER_MANIFEST"

#: Bot events and the bot scope each needs (SLACK_NOTES §10.2); None: no scope needed.
EVENT_SCOPES: Mapping[str, tuple[str, ...] | None] = {
    "app_home_opened": None,
    "app_uninstalled": None,
    "tokens_revoked": None,
    "app_rate_limited": None,
    "app_mention": ("app_mentions:read",),
    "member_joined_channel": ("channels:read", "groups:read"),
    "member_left_channel": ("channels:read", "groups:read"),
    "channel_archive": ("channels:read",),
    "channel_unarchive": ("channels:read",),
    "channel_rename": ("channels:read",),
    "channel_created": ("channels:read",),
    "group_archive": ("groups:read",),
    "group_unarchive": ("groups:read",),
    "group_rename": ("groups:read",),
    "message.channels": ("channels:history",),
    "message.groups": ("groups:history",),
    "message.im": ("im:history",),
    "reaction_added": ("reactions:read",),
    "reaction_removed": ("reactions:read",),
    "pin_added": ("pins:read",),
    "pin_removed": ("pins:read",),
    "subteam_created": ("usergroups:read",),
    "subteam_updated": ("usergroups:read",),
    "subteam_members_changed": ("usergroups:read",),
}

_DISPLAY_NAME_RE = re.compile(r"^[a-z0-9._-]{1,80}$")


def manifest_path() -> Path:
    """``$FIREFIGHTER_MANIFEST`` if set, else the manifest packaged with the bot."""
    override = os.environ.get(MANIFEST_ENV_VAR)
    return Path(override) if override else PACKAGED_MANIFEST_PATH


def load_manifest(path: Path | None = None) -> dict[str, Any]:
    """Parse the manifest at `path` (default: :func:`manifest_path`)."""
    path = manifest_path() if path is None else path
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a Slack app manifest is a mapping")
    return data


def required_bot_scopes(manifest: Mapping[str, Any]) -> set[str]:
    """The bot token scopes the manifest requests."""
    scopes = (manifest.get("oauth_config") or {}).get("scopes") or {}
    return {str(scope).strip() for scope in scopes.get("bot") or ()}


def missing_scopes(granted: Iterable[str] | str, manifest: Mapping[str, Any]) -> list[str]:
    """Scopes the manifest needs that `granted` lacks, sorted.

    `granted` is an iterable of scopes, or the comma-separated ``X-OAuth-Scopes`` header value.
    """
    if isinstance(granted, str):
        granted = granted.split(",")
    have = {scope.strip() for scope in granted if scope.strip()}
    return sorted(required_bot_scopes(manifest) - have)


def bot_events(manifest: Mapping[str, Any]) -> list[str]:
    subscriptions = (manifest.get("settings") or {}).get("event_subscriptions") or {}
    return [str(event) for event in subscriptions.get("bot_events") or ()]


def manifest_problems(manifest: Mapping[str, Any]) -> list[str]:
    """Rules from Slack's docs that the JSON schema does not enforce, plus our own invariants.

    The schema is checked separately (``jsonschema`` against the vendor's schema, in the tests).
    """
    problems: list[str] = []
    features = manifest.get("features") or {}
    settings = manifest.get("settings") or {}
    display_name = (features.get("bot_user") or {}).get("display_name")
    if display_name is None:
        problems.append("features.bot_user.display_name is missing: the bot needs a user")
    elif not _DISPLAY_NAME_RE.match(str(display_name)):
        problems.append(
            f"features.bot_user.display_name {display_name!r}: lowercase letters, digits, "
            "'-', '_' and '.' only (Slack docs), at most 80 characters"
        )
    if settings.get("socket_mode_enabled") is not True:
        problems.append("settings.socket_mode_enabled must be true (the bot runs over Socket Mode)")
    if not (settings.get("interactivity") or {}).get("is_enabled"):
        problems.append("settings.interactivity.is_enabled must be true (modals, buttons)")
    for where, section in (
        ("settings.event_subscriptions.request_url", settings.get("event_subscriptions")),
        ("settings.interactivity.request_url", settings.get("interactivity")),
    ):
        if isinstance(section, Mapping) and section.get("request_url"):
            problems.append(f"{where} must be absent with Socket Mode")
    for index, command in enumerate(features.get("slash_commands") or ()):
        if command.get("url"):
            problems.append(f"features.slash_commands[{index}].url must be absent with Socket Mode")
    scopes = required_bot_scopes(manifest)
    for event in bot_events(manifest):
        if event not in EVENT_SCOPES:
            problems.append(f"bot event {event!r}: unknown to FireFighter (add it to EVENT_SCOPES)")
            continue
        needed = EVENT_SCOPES[event]
        if needed and not scopes.intersection(needed):
            problems.append(f"bot event {event!r} needs the scope {' or '.join(needed)}")
    return problems
