"""A stateful, spec-checked stand-in for Confluence Cloud (REST v2, and v1 for writing labels)."""

from sandbox.confluence.contract import Violation
from sandbox.confluence.server import Delay, RecordedRequest, SandboxConfluence
from sandbox.confluence.state import Account, Label, Page, Space

__all__ = [
    "Account",
    "Delay",
    "Label",
    "Page",
    "RecordedRequest",
    "SandboxConfluence",
    "Space",
    "Violation",
]
