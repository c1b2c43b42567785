"""Stateful Web API methods. Each handler takes the workspace and the merged arguments and returns the
success body (without `ok`) or raises `SlackError(code)`; `REGISTRY` maps method names to handlers."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.slack.state import JSON
from sandbox.slack.workspace import Args, Workspace

Handler = Callable[[Workspace, Args], JSON]
REGISTRY: dict[str, Handler] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        REGISTRY[name] = handler
        return handler

    return register


def load_all() -> dict[str, Handler]:
    """Import every method module (registration happens at import) and return the registry."""
    from sandbox.slack.methods import chat, conversations, extras, files, people, views  # noqa: F401

    return REGISTRY
