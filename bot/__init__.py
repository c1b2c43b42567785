"""FireFighter for Slack: the application package (settings, wiring, domain, service, Block Kit, jobs)."""
