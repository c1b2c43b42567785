"""The local Slack: Web API over HTTP and Socket Mode over WebSocket, checked against Slack's specs."""

from sandbox.slack.contract import Violation
from sandbox.slack.payloads import PayloadError
from sandbox.slack.server import (
    DEFAULT_BOT_EVENTS,
    DEFAULT_BOT_SCOPES,
    RecordedRequest,
    SlackSandbox,
)
from sandbox.slack.users import Ack

__all__ = [
    "DEFAULT_BOT_EVENTS",
    "DEFAULT_BOT_SCOPES",
    "Ack",
    "PayloadError",
    "RecordedRequest",
    "SlackSandbox",
    "Violation",
]
