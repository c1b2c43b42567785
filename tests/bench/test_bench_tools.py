"""The arithmetic and the bookkeeping of bench/ (the benches themselves run by hand: minutes long).

The storm's verdict is a ratio to a bound computed from Slack's rate tiers, and bench/run_all.py
rewrites part of a hand-written document: both are wrong silently if they are wrong, so they are
checked here, without starting the bot."""

from __future__ import annotations

from pathlib import Path

from bench.run_all import BEGIN, END, Row, section, write_doc
from bench.storm import bound


def test_the_storm_bound_is_set_by_the_slowest_tier_over_a_sliding_minute() -> None:
    seconds, method, lines = bound(
        {"conversations.create": 100, "pins.add": 20, "views.open": 100, "chat.postMessage": 200},
        {"incidents": 100, "inc-1": 2},
    )
    # Tier 2 is 20 a minute: calls 1-20 at once, 21-40 after 60 s, ..., 81-100 after 240 s.
    assert (seconds, method) == (240.0, "conversations.create")
    assert "pins.add (t2, 20/min): 20 calls → ≥ 0 s" in lines  # one full window, no wait
    assert "views.open (t4, 100/min): 100 calls → ≥ 0 s" in lines
    # One message a second in a channel after a burst of 5: the 100th leaves 95 s in.
    assert "chat.postMessage in incidents (1/s, burst 5): 100 → ≥ 95 s" in lines
    assert not any("inc-1" in line for line in lines)


def test_the_announcements_set_the_bound_when_they_outlast_the_tiers() -> None:
    seconds, method, _ = bound({"conversations.create": 20}, {"incidents": 30})
    assert (seconds, method) == (25.0, "chat.postMessage in incidents")


def test_a_run_replaces_its_generated_section_and_keeps_the_hand_written_ones(
    tmp_path: Path,
) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nHand-written intro.\n\n## Notes\n\nKept.\n")
    first = section([Row("ack p99", "3.0 ms", "< 10 ms", "met")], "cmd", 60.0, (0.5, 1.0))
    write_doc(first, doc)
    second = section([Row("ack p99", "4.0 ms", "< 10 ms", "met")], "cmd", 60.0, (0.5, 1.0))
    write_doc(second, doc)
    text = doc.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert "| ack p99 | 4.0 ms | < 10 ms | met |" in text
    assert "3.0 ms" not in text
    assert text.startswith("# Benchmarks\n\nHand-written intro.\n\n## Notes\n\nKept.\n")
