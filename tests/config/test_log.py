"""JSON logs from structlog and from libraries' stdlib loggers, with tokens and secrets redacted."""

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import structlog

from bot.log import REDACTED, configure_logging, get_logger
from tests.logs import restored_logging

BOT_TOKEN = "xoxb-1111-2222-abcdefabcdef"
APP_TOKEN = "xapp-1-A0001-3333-abcdefabcdef"
JIRA_SECRET = "jira-Sup3r-s3cret"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Configure logging into a buffer; restore the previous logging set-up afterwards."""
    with restored_logging() as buffer:
        configure_logging("INFO", "json", [JIRA_SECRET], stream=buffer)
        yield buffer


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_a_structlog_event_is_one_json_line_with_time_level_logger_event_and_context(
    output: io.StringIO,
) -> None:
    log = get_logger("firefighter.service")

    with structlog.contextvars.bound_contextvars(incident_id=1234):
        log.info("incident declared", priority="P2")

    [line] = lines(output)
    assert list(line)[:4] == ["timestamp", "level", "logger", "event"]
    assert line["level"] == "info"
    assert line["logger"] == "firefighter.service"
    assert line["event"] == "incident declared"
    assert line["incident_id"] == 1234
    assert line["priority"] == "P2"
    timestamp = datetime.fromisoformat(str(line["timestamp"]).replace("Z", "+00:00"))
    assert timestamp.utcoffset() == timedelta(0)


def test_a_library_stdlib_log_goes_through_the_same_json_formatter(output: io.StringIO) -> None:
    with structlog.contextvars.bound_contextvars(incident_id=7):
        logging.getLogger("slack_bolt.AsyncApp").warning("listener %s was slow", "declare")
    logging.getLogger("tortoise").debug("below the configured level")

    [line] = lines(output)
    assert line["logger"] == "slack_bolt.AsyncApp"
    assert line["level"] == "warning"
    assert line["event"] == "listener declare was slow"
    assert line["incident_id"] == 7


def test_slack_tokens_and_configured_secrets_are_redacted_everywhere(output: io.StringIO) -> None:
    log = get_logger("firefighter.test")

    log.info(
        f"calling Slack with {BOT_TOKEN}",
        headers={"Authorization": f"Bearer {BOT_TOKEN}", "X-Extra": [APP_TOKEN]},
        note=f"jira answered with {JIRA_SECRET} inside",
        token="anything at all",
    )

    raw = output.getvalue()
    for secret in (BOT_TOKEN, APP_TOKEN, JIRA_SECRET, "anything at all"):
        assert secret not in raw
    [line] = lines(output)
    assert line["event"] == f"calling Slack with {REDACTED}"
    assert line["headers"] == {"Authorization": REDACTED, "X-Extra": [REDACTED]}
    assert line["note"] == f"jira answered with {REDACTED} inside"
    assert line["token"] == REDACTED


def test_a_library_logging_an_authorization_header_is_redacted(output: io.StringIO) -> None:
    logging.getLogger("slack_sdk.web.async_base_client").debug("not shown at INFO %s", BOT_TOKEN)
    logging.getLogger("slack_sdk.web.async_base_client").info(
        "Sending a request - url: https://slack.com/api/chat.postMessage, headers: %s",
        {"Authorization": "Basic dXNlcjpwYXNzd29yZA==", "User-Agent": "Python/3.11"},
    )
    logging.getLogger("aiohttp.client").info("Authorization: Bearer abc.def.ghi", extra={"k": 1})

    raw = output.getvalue()
    assert "dXNlcjpwYXNzd29yZA==" not in raw
    assert "abc.def.ghi" not in raw
    assert BOT_TOKEN not in raw
    first, second = lines(output)
    assert "'Authorization': '[REDACTED]'" in str(first["event"])
    assert "Python/3.11" in str(first["event"])
    assert second["event"] == "Authorization: [REDACTED]"
    assert second["k"] == 1


def test_an_exception_traceback_containing_a_token_is_redacted(output: io.StringIO) -> None:
    def call_slack() -> None:
        raise RuntimeError(f"invalid_auth for token {BOT_TOKEN} (app {APP_TOKEN})")

    try:
        call_slack()
    except RuntimeError:
        logging.getLogger("slack_bolt.AsyncApp").exception("Failed to run listener function")
        get_logger("firefighter.errors").exception("listener failed", secret_hint=JIRA_SECRET)

    raw = output.getvalue()
    assert BOT_TOKEN not in raw and APP_TOKEN not in raw and JIRA_SECRET not in raw
    library, ours = lines(output)
    for line in (library, ours):
        assert "Traceback (most recent call last)" in str(line["exception"])
        assert "in call_slack" in str(line["exception"])
        assert f"invalid_auth for token {REDACTED} (app {REDACTED})" in str(line["exception"])
    assert library["logger"] == "slack_bolt.AsyncApp"
    assert library["level"] == "error"


def test_a_secret_inside_an_arbitrary_object_repr_is_redacted(output: io.StringIO) -> None:
    class Client:
        def __repr__(self) -> str:
            return f"Client(password={JIRA_SECRET!r})"

    get_logger("firefighter.jira").info("client ready", client=Client())

    assert JIRA_SECRET not in output.getvalue()
    [line] = lines(output)
    assert line["client"] == f"Client(password='{REDACTED}')"


def test_the_console_format_is_redacted_too() -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    buffer = io.StringIO()
    try:
        configure_logging("DEBUG", "console", [JIRA_SECRET], stream=buffer)
        get_logger("firefighter.test").debug("hello", token=BOT_TOKEN, detail=JIRA_SECRET)
    finally:
        structlog.reset_defaults()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        logging.captureWarnings(False)

    text = buffer.getvalue()
    assert "hello" in text
    assert BOT_TOKEN not in text and JIRA_SECRET not in text


def test_the_password_of_a_url_is_redacted(output: io.StringIO) -> None:
    logging.getLogger("tortoise").info("connecting to postgres://firefighter:hunter2pw@db:5432/ff")

    [line] = lines(output)
    assert line["event"] == f"connecting to postgres://firefighter:{REDACTED}@db:5432/ff"
