"""Fixtures for the sandbox PagerDuty's own tests (defined in `roster.py`, shared with the adapter's
tests)."""

from tests.sandbox.pagerduty.roster import pd, roster

__all__ = ["pd", "roster"]
