"""Structured logging: one JSON line per event, for structlog and stdlib loggers alike, redacted.

:func:`configure_logging` installs a single handler on the root logger whose formatter renders every
record (our structlog loggers, and the stdlib loggers of slack_bolt, slack_sdk, tortoise, aiohttp,
apscheduler ...) as JSON with ``timestamp`` (ISO 8601, UTC), ``level``, ``logger``, ``event`` and any
bound context (``incident_id`` ...). Before rendering, :class:`Redactor` replaces Slack tokens,
``Authorization`` header values, bearer tokens and every configured secret with ``[REDACTED]``,
recursively through the event dict, the message and the formatted traceback; the rendered line is
scrubbed once more (it catches secrets inside ``repr()`` of arbitrary objects).

Call it once at start-up (``bot/__main__.py``); calling it again replaces the previous set-up.
"""

import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TextIO, cast

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"

#: Secrets shorter than this are not redacted verbatim (they would shred ordinary words).
MIN_SECRET_LENGTH = 6

_TOKEN_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Slack tokens: bot, user, app-level, refresh, legacy workspace/org/service tokens.
    (re.compile(r"xox[abeoprs]-[A-Za-z0-9-]+"), REDACTED),
    (re.compile(r"xapp-[A-Za-z0-9-]+"), REDACTED),
    # Authorization / Proxy-Authorization header values in text ("Authorization: Basic abc", a
    # dict repr "'Authorization': 'Bearer abc'", a query "authorization=abc").
    (
        re.compile(
            r"(?i)((?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
            r"(?:(?:bearer|basic|token|digest)\s+)?[^\s\"',;}&]+"
        ),
        rf"\1{REDACTED}",
    ),
    # A bare bearer token.
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+"), rf"\1{REDACTED}"),
    # The password of a URL ("postgres://user:password@host/db").
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(@)"), rf"\1{REDACTED}\2"),
)

#: Event-dict keys whose values are always hidden, whatever they contain.
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "password",
        "token",
        "access_token",
        "refresh_token",
        "api_token",
        "bot_token",
        "app_token",
        "client_secret",
        "secret",
        "cookie",
        "set-cookie",
    }
)


class Redactor:
    """A structlog processor hiding tokens and configured secrets anywhere in the event dict."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        # Longest first so that a secret containing another is replaced whole.
        ordered = sorted(unique, key=len, reverse=True)
        # In rendered JSON a secret may appear escaped ("\\" or "\"" inside): hide that form too.
        escaped = {json.dumps(s)[1:-1] for s in ordered} - unique
        self._secrets = ordered + sorted(escaped, key=len, reverse=True)

    def __call__(self, _logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        return cast(EventDict, self.redact(event_dict))

    def redact(self, value: Any) -> Any:
        """Return `value` with secrets replaced (dicts, lists, tuples and sets are walked)."""
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, Mapping):
            return {
                key: REDACTED
                if isinstance(key, str) and key.lower() in SENSITIVE_KEYS and item is not None
                else self.redact(item)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact(item) for item in value]
        if isinstance(value, bytes | bytearray):
            return self.redact_text(bytes(value).decode("utf-8", "replace"))
        if isinstance(value, bool | int | float) or value is None:
            return value
        # Anything else is rendered with repr() by the JSON renderer: redact that text now.
        return self.redact_text(repr(value))

    def redact_text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern, replacement in _TOKEN_PATTERNS:
            text = pattern.sub(replacement, text)
        return text


_LEADING_KEYS = ("timestamp", "level", "logger", "event")


def _leading_keys_first(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """timestamp, level, logger, event first: the lines read well in a terminal too."""
    ordered = {key: event_dict[key] for key in _LEADING_KEYS if key in event_dict}
    ordered.update(event_dict)
    return ordered


class _RedactedRenderer:
    """Wrap the final renderer and scrub its output once more."""

    def __init__(self, renderer: Processor, redactor: Redactor) -> None:
        self._renderer = renderer
        self._redactor = redactor

    def __call__(self, logger: WrappedLogger, method: str, event_dict: EventDict) -> str:
        rendered = self._renderer(logger, method, event_dict)
        if isinstance(rendered, bytes):
            rendered = rendered.decode("utf-8", "replace")
        return self._redactor.redact_text(str(rendered))


_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


def configure_logging(
    level: str | int = "INFO",
    fmt: Literal["json", "console"] | str = "json",
    secrets: Iterable[str] = (),
    *,
    stream: TextIO | None = None,
) -> None:
    """Route structlog and stdlib logging through one redacting formatter on `stream` (stderr)."""
    numeric_level = level if isinstance(level, int) else _LEVELS[level.upper()]
    redactor = Redactor(secrets)
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp")
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        timestamper,
    ]
    renderer: Processor
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    elif fmt == "json":
        renderer = structlog.processors.JSONRenderer(default=repr, ensure_ascii=False)
    else:
        raise ValueError(f"unknown log format {fmt!r}: use 'json' or 'console'")

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            redactor,
            _leading_keys_first,
            _RedactedRenderer(renderer, redactor),
        ],
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("firefighter")

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric_level)
    # Libraries keep their own loggers; they propagate to the root handler above. Quieten the ones
    # that are chatty at DEBUG about every frame or query unless DEBUG is asked for explicitly.
    for name in ("aiohttp.access", "websockets", "asyncio"):
        logging.getLogger(name).setLevel(max(numeric_level, logging.INFO))
    logging.captureWarnings(True)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger named `name` (bind context with ``.bind(incident_id=...)``)."""
    return structlog.stdlib.get_logger(name)
