"""Errors the user can act on. The app's single error handler answers them ephemerally with their
text; every other exception is logged with its context and answered with a generic apology."""

from __future__ import annotations


class UserFacingError(Exception):
    """A refusal or a validation failure whose message is written for the person who acted."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(UserFacingError):
    """Something the user referred to does not exist (or is not visible to them)."""


class AccessDenied(UserFacingError):
    """The access policy refuses the action; the message says why."""
