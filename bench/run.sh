#!/usr/bin/env bash
# Builds the release server and measures every figure of SPEC §8 in one run:
#
#   bench/run.sh                                  # on a fresh SQLite file
#   bench/run.sh --postgres postgres://postgres@127.0.0.1:5432/postgres
#   bench/run.sh --duration 5 --big 20000         # a quicker look
#   bench/run.sh --only-reset                     # requestPasswordReset timing
#   bench/run.sh --only-sync --baseline OLD_BINARY  # changes, and createTask beside an earlier build
#   bench/run.sh --postgres URL --only-postgraphile  # the nested query against PostGraphile v5
#
# The load comes from wrk (Debian's package, installed when missing) and, for
# subscriptions, bench/events.mjs (Node, with the `ws` package) in other
# processes; bench/bench.py drives them and prints one table. On
# PostgreSQL, PostGraphile v5 (bench/postgraphile, from npm) answers the
# same nested query on the same database, checked equal before both are
# loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
    apt-get update -qq && apt-get install -y -qq wrk
fi
(cd bench && npm ci --no-audit --no-fund --loglevel=error)
cargo build --release --quiet
cargo build --release --quiet --manifest-path bench/floor/Cargo.toml
# Ten thousand WebSocket connections need as many descriptors, on both ends.
ulimit -n "$(ulimit -Hn)"
exec python3 bench/bench.py "$@"
