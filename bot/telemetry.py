"""Prometheus metrics, held in a registry created by the composition root (no module-level state)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Telemetry:
    """The bot's metrics. One instance per process, built in wiring."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "firefighter_slack_requests",
            "Slack requests handled, by payload type and outcome",
            ["type", "outcome"],
            registry=self.registry,
        )
        self.handle_seconds = Histogram(
            "firefighter_slack_handle_seconds",
            "Time from receiving a Slack request to the end of its listener",
            ["type"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.socket_connected = Gauge(
            "firefighter_socket_connected",
            "1 while the Socket Mode websocket is connected",
            registry=self.registry,
        )
        self.database_up = Gauge(
            "firefighter_database_up",
            "1 when the last database ping succeeded",
            registry=self.registry,
        )
