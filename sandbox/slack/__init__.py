"""A stateful Slack: Web API over HTTP and Socket Mode over a real websocket."""
