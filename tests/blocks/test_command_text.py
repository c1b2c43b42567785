from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.blocks.command import ParsedCommand, Subcommand, closest_subcommand, parse_command_text
from bot.blocks.help import help_message, unknown_subcommand_message
from bot.blocks.text import duration, escape, local_time, truncate


def test_an_empty_command_is_the_help() -> None:
    assert parse_command_text("") == ParsedCommand("help", "")
    assert parse_command_text(None) == ParsedCommand("help", "")
    assert parse_command_text("   ") == ParsedCommand("help", "")


def test_the_subcommand_is_case_insensitive_and_the_rest_is_kept_verbatim() -> None:
    assert parse_command_text("  NOTE  The DB is *back*  ") == ParsedCommand(
        "note", "The DB is *back*"
    )


def test_a_typo_suggests_the_closest_subcommand() -> None:
    known = ["open", "update", "status", "list", "help"]
    assert closest_subcommand("lsit", known) == "list"
    assert closest_subcommand("stauts", known) == "status"
    assert closest_subcommand("zzzzzz", known) is None


def test_user_text_cannot_ping_everyone_or_forge_a_link() -> None:
    assert escape("<!channel> hi <@U123> <http://evil|bank> & co") == (
        "&lt;!channel&gt; hi &lt;@U123&gt; &lt;http://evil|bank&gt; &amp; co"
    )


def test_the_unknown_subcommand_answer_escapes_what_was_typed() -> None:
    message = unknown_subcommand_message("/incident", "<!here>", None)
    assert "<!here>" not in message["text"]
    assert "/incident help" in message["text"]


def test_the_help_lists_each_subcommand_on_one_line() -> None:
    subs = [Subcommand("list", "list [open|mine|closed]", "List incidents")]
    message = help_message("/incident", subs)
    body = message["blocks"][1]["text"]["text"]
    assert body == "`/incident list [open|mine|closed]`: List incidents"
    assert message["response_type"] == "ephemeral"


def test_durations_read_with_units() -> None:
    assert duration(timedelta(seconds=42)) == "42 s"
    assert duration(timedelta(minutes=12, seconds=5)) == "12 min"
    assert duration(timedelta(hours=3, minutes=5)) == "3 h 5 min"
    assert duration(timedelta(hours=2)) == "2 h"
    assert duration(timedelta(days=2, hours=4)) == "2 d 4 h"
    assert duration(timedelta(seconds=-5)) == "0 s"


def test_times_are_shown_in_the_configured_time_zone() -> None:
    moment = datetime(2026, 11, 27, 13, 5, tzinfo=UTC)
    assert local_time(moment, ZoneInfo("Europe/Paris")) == "2026-11-27 14:05 CET"


def test_truncation_marks_the_cut() -> None:
    assert truncate("abcdef", 4) == "abc…"
    assert truncate("abc", 4) == "abc"
