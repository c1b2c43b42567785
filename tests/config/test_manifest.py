"""The Slack app manifest: valid against Slack's schema and docs, and the scope check."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from bot.config import load_catalog
from bot.manifest import (
    MANIFEST_ENV_VAR,
    PACKAGED_MANIFEST_PATH,
    load_manifest,
    manifest_path,
    manifest_problems,
    missing_scopes,
    required_bot_scopes,
)
from sandbox.specs import specs_dir

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    path = specs_dir() / "slack_manifest_schema" / "manifest.schema.1.0.0.json"
    return Draft7Validator(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture
def manifest() -> dict[str, Any]:
    return load_manifest()


def test_the_packaged_manifest_is_identical_to_the_one_at_the_repository_root() -> None:
    root_copy = (REPO_ROOT / "slack-manifest.yaml").read_bytes()

    assert PACKAGED_MANIFEST_PATH.read_bytes() == root_copy


def test_the_manifest_validates_against_slacks_schema(
    validator: Draft7Validator, manifest: dict[str, Any]
) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(manifest)]

    assert errors == []


def test_the_schema_check_really_rejects_a_long_shortcut_name(
    validator: Draft7Validator, manifest: dict[str, Any]
) -> None:
    broken = copy.deepcopy(manifest)
    broken["features"]["shortcuts"][0]["name"] = "Declare a brand new incident now"

    assert not validator.is_valid(broken)


def test_the_manifest_follows_the_stricter_rules_of_slacks_docs(manifest: dict[str, Any]) -> None:
    assert manifest_problems(manifest) == []
    assert manifest["features"]["bot_user"]["display_name"] == "firefighter"


def test_an_uppercase_bot_display_name_passes_the_schema_but_not_the_docs_rule(
    validator: Draft7Validator, manifest: dict[str, Any]
) -> None:
    broken = copy.deepcopy(manifest)
    broken["features"]["bot_user"]["display_name"] = "FireFighter Bot"

    assert validator.is_valid(broken)
    assert any("display_name" in problem for problem in manifest_problems(broken))


def test_the_manifest_is_socket_mode_with_the_products_command_and_shortcuts(
    manifest: dict[str, Any],
) -> None:
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"] == {"is_enabled": True}
    assert "request_url" not in settings["event_subscriptions"]
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == load_catalog(None).slack.command
    assert command["usage_hint"]
    shortcuts = {
        s["callback_id"]: (s["type"], s["name"]) for s in manifest["features"]["shortcuts"]
    }
    assert shortcuts == {
        "incident.declare": ("global", "Declare an incident"),
        "incident.declare_from_message": ("message", "Declare from message"),
        "incident.add_to_timeline": ("message", "Add to timeline"),
    }
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True


def test_every_bot_event_has_its_scope(manifest: dict[str, Any]) -> None:
    broken = copy.deepcopy(manifest)
    broken["oauth_config"]["scopes"]["bot"].remove("reactions:read")

    assert manifest_problems(manifest) == []
    assert "bot event 'reaction_added' needs the scope reactions:read" in manifest_problems(broken)


def test_missing_scopes_lists_what_the_token_lacks_sorted(manifest: dict[str, Any]) -> None:
    wanted = required_bot_scopes(manifest)
    assert {"chat:write", "commands", "channels:manage", "groups:write", "reactions:read"} <= wanted

    assert missing_scopes(wanted, manifest) == []
    assert missing_scopes([*wanted, "admin"], manifest) == []
    granted = wanted - {"pins:write", "bookmarks:write"}
    assert missing_scopes(granted, manifest) == ["bookmarks:write", "pins:write"]
    assert missing_scopes(",".join(sorted(granted)), manifest) == ["bookmarks:write", "pins:write"]
    assert missing_scopes([], manifest) == sorted(wanted)


def test_the_manifest_path_can_be_overridden_by_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(MANIFEST_ENV_VAR, raising=False)
    assert manifest_path() == PACKAGED_MANIFEST_PATH
    other = tmp_path / "manifest.yaml"
    other.write_text("display_information: {name: Other}\n", encoding="utf-8")
    monkeypatch.setenv(MANIFEST_ENV_VAR, str(other))

    assert load_manifest() == {"display_information": {"name": "Other"}}
    assert required_bot_scopes(load_manifest()) == set()
