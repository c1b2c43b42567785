"""Incident channel names (PRODUCT.md §2 "The incident channel"): Slack-safe, unique by the id.

A Slack channel name is lowercase letters, digits, ``-`` and ``_``; this module also keeps it at most
80 characters (the commonly quoted limit, SLACK_NOTES §4.1), starting with a letter or a digit, without
leading, trailing or doubled dashes. When the name is too long the slug of the title is cut, never the
id: the id is what makes the name unique. ``name_taken`` is answered with ``with_suffix``.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date as Date

MAX_LENGTH = 80
DEFAULT_TEMPLATE = "inc-{date:%Y%m%d}-{id}-{slug}"
VALID_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
"""What every name built here matches."""

# Letters NFKD does not decompose into ASCII.
_TRANSLITERATIONS = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "\u0131": "i",  # dotless i
        "'": "",
        "\u2019": "",  # typographic apostrophe
    }
)
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_NOT_NAME = re.compile(r"[^a-z0-9_-]+")
_SEPARATOR_RUN = re.compile(r"[-_]*-[-_]*")
"""A run of separators holding a dash: becomes one dash (``a-_-b`` → ``a-b``)."""
_SLUG_MARK = "\x00"
_FIELD_MAX = 20
"""Longest category / environment / priority part: the slug deserves the room."""


def slugify(text: str) -> str:
    """``"Checkout: 500s for Zoë's café!"`` → ``"checkout-500s-for-zoes-cafe"``.

    Lowercase ASCII letters and digits joined by single dashes; accented letters are transliterated
    (NFKD, plus ß, æ, œ, ø, ł…), anything else (emoji, other scripts, punctuation) is dropped.
    The result may be empty."""
    folded = unicodedata.normalize("NFKD", text.lower().translate(_TRANSLITERATIONS))
    ascii_only = folded.encode("ascii", "ignore").decode("ascii").lower()
    return _NOT_SLUG.sub("-", ascii_only).strip("-")


def _clean(name: str) -> str:
    """Only ``a-z0-9-_``, no doubled dashes, no separator at either end."""
    name = _NOT_NAME.sub("-", name.lower())
    return _SEPARATOR_RUN.sub("-", name).strip("-_")


def _cut_slug(slug: str, room: int) -> str:
    """``slug`` in at most ``room`` characters, cut at a word boundary when one is close."""
    if len(slug) <= room:
        return slug
    cut = slug[: max(0, room)]
    boundary = cut.rfind("-")
    if boundary >= room // 2:
        cut = cut[:boundary]
    return cut.strip("-")


def channel_name(
    template: str,
    *,
    incident_id: int,
    title: str,
    priority_label: str,
    category: str,
    environment: str,
    date: Date,
) -> str:
    """The channel name of an incident from the configured template (``SlackSection``).

    Placeholders: ``{date:%Y%m%d}`` ``{id}`` ``{slug}`` (of the title) ``{priority}`` ``{category}``
    ``{environment}``. A template without ``{id}`` gets ``-{id}`` appended (the configuration already
    refuses one). The result matches ``VALID_NAME``; when it would be longer than 80 characters the
    slug is cut (at a word boundary when possible), and if the fixed parts alone are too long the
    name falls back to the default template. The id is never cut."""
    if "{id" not in template:
        template += "-{id}"
    fields = {
        "id": incident_id,
        "priority": slugify(priority_label)[:_FIELD_MAX],
        "category": slugify(category)[:_FIELD_MAX],
        "environment": slugify(environment)[:_FIELD_MAX],
        "date": date,
    }
    slug = slugify(title)
    parts = [_clean_part(p) for p in template.format(slug=_SLUG_MARK, **fields).split(_SLUG_MARK)]
    slots = len(parts) - 1
    fixed = sum(len(p) for p in parts)
    if fixed > MAX_LENGTH:
        return channel_name(
            DEFAULT_TEMPLATE,
            incident_id=incident_id,
            title=title,
            priority_label=priority_label,
            category=category,
            environment=environment,
            date=date,
        )
    piece = _cut_slug(slug, (MAX_LENGTH - fixed) // slots) if slots else ""
    return _clean(piece.join(parts))[:MAX_LENGTH]


def _clean_part(part: str) -> str:
    """A literal piece of the rendered template: Slack-safe but keeping its edge separators."""
    return _SEPARATOR_RUN.sub("-", _NOT_NAME.sub("-", part.lower()))


def with_suffix(name: str, n: int) -> str:
    """``name`` with ``-<n>`` appended (``inc-…-checkout-down-2``), for when Slack answers
    ``name_taken``; still at most 80 characters.

    To make room, letters are removed from the end of the name, digits never: the id and the date
    are kept whatever the template. With the default template the slug's last words are cut."""
    suffix = f"-{n}"
    chars = list(_clean(name))
    index = len(chars) - 1
    while len(_clean("".join(chars))) + len(suffix) > MAX_LENGTH and index >= 0:
        if chars[index] != "-" and not chars[index].isdigit():
            del chars[index]
        index -= 1
    base = _clean("".join(chars))[: MAX_LENGTH - len(suffix)].rstrip("-_")
    return f"{base}{suffix}" if base else str(n)


__all__ = [
    "DEFAULT_TEMPLATE",
    "MAX_LENGTH",
    "VALID_NAME",
    "channel_name",
    "slugify",
    "with_suffix",
]
