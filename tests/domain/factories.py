"""Plain builders for the domain tests (no fixtures): an incident in any status with coherent
milestones."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from bot.domain.incident import (
    Actor,
    Incident,
    Milestones,
    Priority,
    Status,
)

NOW = datetime(2025, 3, 4, 12, 0, tzinfo=UTC)
DECLARED = NOW - timedelta(hours=2)
COMMANDER = Actor.user("U_COMMANDER", "Cora")
SOMEONE = Actor.user("U_SOMEONE")


def milestones_for(status: Status) -> Milestones:
    """What an incident that went through the lifecycle up to ``status`` has set."""
    milestones = Milestones(
        started_at=DECLARED - timedelta(minutes=30),
        detected_at=DECLARED - timedelta(minutes=10),
        declared_at=DECLARED,
    )
    if status is not Status.OPEN:
        milestones = dataclasses.replace(
            milestones, acknowledged_at=DECLARED + timedelta(minutes=5)
        )
    if status.is_mitigated_or_later:
        milestones = dataclasses.replace(milestones, mitigated_at=DECLARED + timedelta(minutes=40))
    if status.is_past_mitigated:
        milestones = dataclasses.replace(milestones, resolved_at=DECLARED + timedelta(minutes=50))
    if status is Status.CLOSED:
        milestones = dataclasses.replace(milestones, closed_at=DECLARED + timedelta(minutes=60))
    return milestones


def incident(
    status: Status = Status.INVESTIGATING, priority: Priority = Priority.P2, **changes: object
) -> Incident:
    base = Incident(
        id=42,
        title="Checkout fails for every customer",
        summary="Payments return 500 since the last deploy",
        priority=priority,
        category="payments",
        environments=("PRD",),
        status=status,
        created_by=COMMANDER.id,
        created_at=DECLARED,
        updated_at=DECLARED,
        response_type=priority.default_response_type,
        channel_id="C42" if priority <= Priority.P3 else None,
        milestones=milestones_for(status),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]
