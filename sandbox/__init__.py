"""Local stand-ins for Slack, Jira, PagerDuty and Confluence that check every request against the vendor spec."""
