"""Pure Block Kit builders and modal parsers."""
