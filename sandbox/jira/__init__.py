"""A stateful, spec-checked stand-in for Jira Cloud (REST v3, v2 twin) and Jira Data Center (REST v2)."""

from sandbox.jira.contract import Violation
from sandbox.jira.server import RecordedRequest, SandboxJira

__all__ = ["RecordedRequest", "SandboxJira", "Violation"]
