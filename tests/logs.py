"""Logging as the bot configures it, confined to a test: whatever a test configures is undone."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

import structlog


@contextlib.contextmanager
def restored_logging() -> Iterator[io.StringIO]:
    """A buffer for the test to configure logging into; the root logger's handlers and level,
    structlog's defaults and context, and warnings capture are restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    try:
        yield buffer
    finally:
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        logging.captureWarnings(False)
