"""Schemathesis checks for taskql: what counts as a server failure.

Expected outcomes (a wrong password, an unknown id) are GraphQL errors with a
client code by contract, so schemathesis' own `not_a_server_error`, which
flags every resolver error, is replaced by this one: a 5xx, a body that is
not JSON, or an error without a client code is a failure.
"""

import schemathesis

CLIENT_CODES = {
    "UNAUTHENTICATED",
    "BAD_USER_INPUT",
    "EMAIL_TAKEN",
    "INVALID_CREDENTIALS",
    "NOT_FOUND",
    "RATE_LIMITED",
}


@schemathesis.check
def no_internal_errors(ctx, response, case):
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}")
    body = response.json()
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code not in CLIENT_CODES:
            raise AssertionError(f"an error without a client code: {error}")
