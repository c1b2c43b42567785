"""The declare form's validation: errors keyed by field for `response_action: errors`."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.declaration import (
    DeclarationInvalid,
    require_valid_declaration,
    validate_declaration,
)

GOOD: dict[str, Any] = {
    "title": "Checkout fails for every customer",
    "summary": "Payments return 500 since the last deploy",
    "environments": ["PRD"],
}


def test_a_good_declaration_has_no_errors() -> None:
    assert validate_declaration(**GOOD) == {}
    require_valid_declaration(**GOOD)


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("Too short", "The title needs at least 10 characters (9 given)."),
        ("   Too short    ", "The title needs at least 10 characters (9 given)."),
        ("x" * 129, "The title can have at most 128 characters (129 given)."),
    ],
)
def test_the_title_is_10_to_128_characters(title: str, message: str) -> None:
    assert validate_declaration(**{**GOOD, "title": title}) == {"title": message}


def test_titles_of_exactly_10_and_128_characters_are_fine() -> None:
    for title in ("x" * 10, "x" * 128):
        assert validate_declaration(**{**GOOD, "title": title}) == {}


@pytest.mark.parametrize(
    ("summary", "message"),
    [
        ("", "The summary needs at least 10 characters (0 given)."),
        ("y" * 1201, "The summary can have at most 1200 characters (1201 given)."),
    ],
)
def test_the_summary_is_10_to_1200_characters(summary: str, message: str) -> None:
    assert validate_declaration(**{**GOOD, "summary": summary}) == {"summary": message}


def test_at_least_one_environment_is_chosen() -> None:
    assert validate_declaration(**{**GOOD, "environments": []}) == {
        "environments": "Choose at least one environment."
    }


def test_unknown_and_repeated_environments_are_refused() -> None:
    errors = validate_declaration(
        **{**GOOD, "environments": ["PRD", "MOON"]}, known_environments={"PRD", "STG"}
    )
    assert errors == {"environments": "Unknown environment: MOON."}
    errors = validate_declaration(**{**GOOD, "environments": ["PRD", "PRD"]})
    assert errors == {"environments": "Each environment can be chosen once."}


def test_every_field_in_error_is_reported_at_once() -> None:
    with pytest.raises(DeclarationInvalid) as invalid:
        require_valid_declaration(title="short", summary="tiny", environments=[])
    assert set(invalid.value.errors) == {"title", "summary", "environments"}
    assert "Choose at least one environment." in invalid.value.message
