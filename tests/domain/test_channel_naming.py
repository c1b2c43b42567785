"""Channel names: Slack-safe for any title, at most 80 characters, the id always kept."""

from __future__ import annotations

import re
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.naming import DEFAULT_TEMPLATE, MAX_LENGTH, channel_name, slugify, with_suffix

SLACK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
DAY = date(2026, 11, 27)


def name(title: str, *, template: str = DEFAULT_TEMPLATE, incident_id: int = 1234) -> str:
    return channel_name(
        template,
        incident_id=incident_id,
        title=title,
        priority_label="P1",
        category="Payments & Checkout",
        environment="PRD",
        date=DAY,
    )


def tokens(channel: str) -> list[str]:
    return channel.split("-")


def assert_clean(channel: str) -> None:
    assert SLACK_NAME.match(channel), channel
    assert "--" not in channel
    assert not channel.endswith(("-", "_"))


def test_the_default_template_gives_date_id_and_slug() -> None:
    assert (
        name("Checkout is DOWN for everyone!") == "inc-20261127-1234-checkout-is-down-for-everyone"
    )


def test_accented_letters_are_transliterated_and_other_scripts_dropped() -> None:
    assert slugify("Zoë's café: Straße, Œuvre, Łódź 🔥 火事") == "zoes-cafe-strasse-oeuvre-lodz"


def test_a_title_without_any_latin_letter_still_gives_a_name_with_the_id() -> None:
    assert name("🔥🔥🔥 火事 🔥🔥🔥") == "inc-20261127-1234"


def test_a_long_title_is_cut_at_a_word_and_the_id_is_kept() -> None:
    channel = name("Checkout " * 30, template="{slug}-{id}", incident_id=987654)
    assert len(channel) <= MAX_LENGTH
    assert channel.endswith("-checkout-987654")
    assert_clean(channel)


def test_every_placeholder_is_slack_safe() -> None:
    channel = name("Disk full", template="{priority}_{category}-{environment}-{id}-{slug}")
    assert channel == "p1_payments-checkout-prd-1234-disk-full"


def test_a_template_without_the_id_gets_it_appended() -> None:
    assert name("Disk full", template="inc-{slug}") == "inc-disk-full-1234"


def test_a_suffix_is_added_for_a_taken_name() -> None:
    assert with_suffix("inc-20261127-1234-disk-full", 2) == "inc-20261127-1234-disk-full-2"


def test_a_suffix_on_a_full_length_name_cuts_words_never_numbers() -> None:
    full = name("a" * 200, template="{slug}-{id}-{date:%Y%m%d}")
    assert len(full) == MAX_LENGTH
    suffixed = with_suffix(full, 13)
    assert len(suffixed) <= MAX_LENGTH
    assert suffixed.endswith("-1234-20261127-13")
    assert_clean(suffixed)


@given(st.text(max_size=300), st.integers(min_value=1, max_value=10**9))
def test_any_title_gives_a_valid_slack_channel_name_containing_the_id(
    title: str, incident_id: int
) -> None:
    channel = name(title, incident_id=incident_id)
    assert_clean(channel)
    assert tokens(channel)[:3] == ["inc", "20261127", str(incident_id)]


@given(
    st.text(max_size=300),
    st.integers(min_value=1, max_value=10**9),
    st.sampled_from(
        [DEFAULT_TEMPLATE, "{slug}-{id}", "{priority}-{category}-{id}_{slug}", "{slug}{id}"]
    ),
    st.integers(min_value=2, max_value=1000),
)
def test_any_title_with_any_suffix_stays_valid_and_keeps_the_id(
    title: str, incident_id: int, template: str, n: int
) -> None:
    channel = with_suffix(name(title, template=template, incident_id=incident_id), n)
    assert_clean(channel)
    assert str(incident_id) in channel
    assert channel.endswith(f"-{n}")
