"""Settings come from the environment; secrets stay hidden; integrations switch on all-or-nothing."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings

VARIABLES = (
    "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_API_URL", "DATABASE_URL", "DB_POOL_SIZE",
    "AUTO_MIGRATE", "FIREFIGHTER_CONFIG", "JIRA_URL", "JIRA_USER", "JIRA_API_TOKEN", "JIRA_CLOUD",
    "PAGERDUTY_API_URL", "PAGERDUTY_EVENTS_URL", "PAGERDUTY_API_TOKEN", "PAGERDUTY_FROM_EMAIL",
    "CONFLUENCE_URL", "CONFLUENCE_USER", "CONFLUENCE_API_TOKEN", "FIREFIGHTER_HTTP_HOST",
    "FIREFIGHTER_HTTP_PORT", "HTTP_PORT", "HTTP_HOST", "LOG_LEVEL", "LOG_FORMAT",
)  # fmt: skip

BOT_TOKEN = "xoxb-1111-2222-abcdefabcdef"
APP_TOKEN = "xapp-1-A0001-3333-abcdefabcdef"
JIRA_TOKEN = "jira-secret-token-value"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_with_an_empty_environment_the_defaults_apply_and_integrations_are_off() -> None:
    settings = Settings()

    assert settings.slack_bot_token is None
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.database_url == "sqlite://firefighter.sqlite3"
    assert settings.firefighter_config is None
    assert settings.http_port == 8080
    assert settings.log_format == "json"
    assert settings.auto_migrate is True
    assert not settings.jira_enabled
    assert not settings.pagerduty_enabled
    assert not settings.confluence_enabled
    assert settings.secrets() == []


def test_settings_are_read_from_the_environment(clean_environment: pytest.MonkeyPatch) -> None:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": "http://127.0.0.1:9999/api/",
        "DATABASE_URL": "postgres://ff@db:5432/ff",
        "DB_POOL_SIZE": "20",
        "AUTO_MIGRATE": "false",
        "FIREFIGHTER_CONFIG": "/etc/firefighter/firefighter.yaml",
        "FIREFIGHTER_HTTP_PORT": "9090",
        "LOG_LEVEL": "debug",
        "LOG_FORMAT": "Console",
        "JIRA_URL": "https://example.atlassian.net",
        "JIRA_USER": "bot@example.com",
        "JIRA_API_TOKEN": JIRA_TOKEN,
    }
    for name, value in env.items():
        clean_environment.setenv(name, value)

    settings = Settings()

    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == BOT_TOKEN
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"
    assert settings.database_url == "postgres://ff@db:5432/ff"
    assert settings.db_pool_size == 20
    assert settings.auto_migrate is False
    assert settings.firefighter_config == Path("/etc/firefighter/firefighter.yaml")
    assert settings.http_port == 9090
    assert settings.log_level == "DEBUG"
    assert settings.log_format == "console"
    assert settings.jira_enabled
    assert sorted(settings.secrets()) == sorted([BOT_TOKEN, APP_TOKEN, JIRA_TOKEN])


def test_secrets_never_appear_in_repr_str_or_a_dump(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    clean_environment.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    clean_environment.setenv("PAGERDUTY_API_TOKEN", "pd-secret-token-value")
    clean_environment.setenv("PAGERDUTY_FROM_EMAIL", "oncall@example.com")

    settings = Settings()

    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert BOT_TOKEN not in text
        assert APP_TOKEN not in text
        assert "pd-secret-token-value" not in text
    assert "oncall@example.com" in repr(settings)
    assert settings.pagerduty_enabled


def test_an_empty_variable_counts_as_unset(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("JIRA_URL", "")
    clean_environment.setenv("SLACK_BOT_TOKEN", "")

    settings = Settings()

    assert settings.jira_url is None
    assert settings.slack_bot_token is None


def test_a_partly_configured_integration_is_an_error_naming_what_is_missing(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("CONFLUENCE_URL", "https://example.atlassian.net/wiki")

    with pytest.raises(ValidationError) as caught:
        Settings()

    message = str(caught.value)
    assert "Confluence is partly configured" in message
    assert "CONFLUENCE_USER, CONFLUENCE_API_TOKEN missing" in message


def test_jira_server_needs_no_user_when_not_on_cloud(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("JIRA_URL", "https://jira.internal")
    clean_environment.setenv("JIRA_API_TOKEN", JIRA_TOKEN)
    clean_environment.setenv("JIRA_CLOUD", "false")

    assert Settings().jira_enabled


def test_settings_can_be_built_in_code_by_field_name() -> None:
    settings = Settings(http_port=0, log_level="WARNING")

    assert settings.http_port == 0
    assert settings.log_level == "WARNING"


def test_the_database_password_counts_as_a_secret(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("DATABASE_URL", "postgres://ff:p%40ss-word@db:5432/ff")

    assert set(Settings().secrets()) == {"p%40ss-word", "p@ss-word"}
