"""Pure domain core: no I/O, no Slack/Tortoise/HTTP imports."""
