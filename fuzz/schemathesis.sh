#!/usr/bin/env bash
# Fuzzes a release taskql server through its GraphQL schema with schemathesis
# (from PyPI, installed into target/fuzz-venv). Not part of CI.
#
#   fuzz/schemathesis.sh [max-examples-per-operation]   (default 200)
#
# Starts the server on a fresh SQLite file on 127.0.0.1:18080 with the
# per-IP rate limit and the login lockout relaxed (so that the fuzzer reaches
# the resolvers instead of the brakes), signs up a user, and runs every
# mutation and query the schema lists (new ones join by themselves) with that
# user's token. A 5xx, an error without a client
# code (fuzz/hooks.py) or a crash fails the run. `positive_data_acceptance`
# is off: it expects every type-valid value to be accepted, while our rules
# refuse an empty title or a malformed email, id or cursor as BAD_USER_INPUT.
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${1:-200}
port=18080
work=$(mktemp -d)
trap 'kill "${server:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

venv=${TASKQL_FUZZ_VENV:-target/fuzz-venv}
if [ ! -x "$venv/bin/st" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet schemathesis
fi

cargo build --release --quiet
TASKQL_DATABASE_URL="sqlite://$work/taskql.db?mode=rwc" \
TASKQL_LISTEN="127.0.0.1:$port" \
TASKQL_JWT_SECRET="fuzzing-secret-of-at-least-32-bytes-long" \
TASKQL_AUTH_RATE_LIMIT=off \
TASKQL_LOGIN_MAX_FAILURES=1000000 \
TASKQL_LOG=warn \
    target/release/taskql serve 2> "$work/server.log" &
server=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

gql() {
    curl -sf "http://127.0.0.1:$port/graphql" -H 'content-type: application/json' -d "$1"
}
credentials='{"email":"fuzz@example.com","password":"fuzzing is fun 2026"}'
gql "{\"query\":\"mutation(\$i: SignupInput!) { signup(input: \$i) { id } }\",\"variables\":{\"i\":$credentials}}" >/dev/null
token=$(gql "{\"query\":\"mutation(\$i: LoginInput!) { login(input: \$i) { accessToken } }\",\"variables\":{\"i\":$credentials}}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')

status=0
SCHEMATHESIS_HOOKS=hooks PYTHONPATH=fuzz "$venv/bin/st" run "http://127.0.0.1:$port/graphql" \
    --header "Authorization: Bearer $token" \
    --exclude-checks not_a_server_error,positive_data_acceptance \
    --max-examples "$examples" \
    --workers 2 \
    --report ndjson --report-dir "$work/report" || status=$?

if ! kill -0 "$server" 2>/dev/null; then
    echo "the server died during the run" >&2
    status=1
fi
echo "server log lines at warn or above: $(grep -c . "$work/server.log" || true)"
grep -i "panic\|internal error" "$work/server.log" | head -20 || true
exit "$status"
