"""A stateful, spec-checked stand-in for PagerDuty (REST API v2 and Events API v2) over real TLS."""

from sandbox.pagerduty.contract import Violation
from sandbox.pagerduty.server import RecordedRequest, SandboxPagerDuty

__all__ = ["RecordedRequest", "SandboxPagerDuty", "Violation"]
