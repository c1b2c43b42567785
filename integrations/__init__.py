"""Adapters implementing the ports of `bot.ports` (Slack, Jira, PagerDuty, Confluence)."""
