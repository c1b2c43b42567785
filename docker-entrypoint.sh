#!/bin/sh
# The image's entry point. `run` (the default) applies pending migrations in a short-lived process
# first, then starts the bot with --no-migrate: applying migrations inside the bot process kept
# ~24 MB resident for its whole life (docs/benchmarks.md, memory). Anything else is a `firefighter`
# subcommand (`check`, `migrate`, `demo`...).
set -e
if [ "$#" -eq 0 ] || [ "$1" = "run" ]; then
  [ "$#" -gt 0 ] && shift
  firefighter migrate
  exec firefighter run --no-migrate "$@"
fi
exec firefighter "$@"
