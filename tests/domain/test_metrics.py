"""Derived metrics: durations between milestones, empty while a milestone is unset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.incident import Milestone, Milestones
from bot.domain.metrics import (
    Metric,
    metrics_of,
    missing_for_metrics,
    time_to_acknowledge,
    time_to_close,
    time_to_detect,
    time_to_mitigate,
)

T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def full_milestones() -> Milestones:
    return Milestones(
        started_at=T0,
        detected_at=T0 + timedelta(minutes=4),
        declared_at=T0 + timedelta(minutes=10),
        acknowledged_at=T0 + timedelta(minutes=12),
        mitigated_at=T0 + timedelta(minutes=45),
        resolved_at=T0 + timedelta(hours=2),
        closed_at=T0 + timedelta(days=2),
    )


def test_each_metric_is_the_span_between_its_two_milestones() -> None:
    m = full_milestones()
    assert time_to_detect(m) == timedelta(minutes=4)
    assert time_to_acknowledge(m) == timedelta(minutes=2)
    assert time_to_mitigate(m) == timedelta(minutes=45)
    assert time_to_close(m) == timedelta(days=2) - timedelta(minutes=10)


def test_a_metric_is_empty_while_one_of_its_milestones_is_unset() -> None:
    m = full_milestones().with_(Milestone.ACKNOWLEDGED, None)
    assert time_to_acknowledge(m) is None
    assert time_to_detect(m) == timedelta(minutes=4)
    assert time_to_mitigate(Milestones()) is None


def test_all_metrics_at_once_match_the_single_functions() -> None:
    m = full_milestones()
    metrics = metrics_of(m)
    assert metrics.time_to_mitigate == time_to_mitigate(m)
    assert metrics.get(Metric.TIME_TO_CLOSE) == time_to_close(m)


def test_a_corrected_milestone_in_the_wrong_order_shows_as_a_negative_duration() -> None:
    m = full_milestones().with_(Milestone.DETECTED, T0 - timedelta(minutes=1))
    assert time_to_detect(m) == timedelta(minutes=-1)


def test_the_milestones_that_leave_a_metric_empty_are_listed_in_lifecycle_order() -> None:
    assert missing_for_metrics(full_milestones()) == ()
    m = Milestones(declared_at=T0)
    assert missing_for_metrics(m) == (
        Milestone.STARTED,
        Milestone.DETECTED,
        Milestone.ACKNOWLEDGED,
        Milestone.MITIGATED,
        Milestone.CLOSED,
    )
