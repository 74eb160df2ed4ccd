"""Schemathesis checks for taskql: what counts as a server failure.

Expected outcomes (a wrong password, an unknown id) are GraphQL errors with a
client code by contract, so schemathesis' own `not_a_server_error`, which
flags every resolver error, is replaced by this one: a 5xx, a body that is
not JSON, or an error without a client code is a failure.
"""

import graphql
import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

CLIENT_CODES = {
    "UNAUTHENTICATED",
    "BAD_USER_INPUT",
    "EMAIL_TAKEN",
    "INVALID_CREDENTIALS",
    "NOT_FOUND",
    "RATE_LIMITED",
}



def _object(fields):
    return nodes.Object([
        graphql.ObjectFieldNode(name=graphql.NameNode(value=name), value=value)
        for name, value in fields.items()
    ])


# `JSON` (WebAuthn credentials): any JSON value, with the names a
# credential has among the keys, so that some values get past the shape.
_names = st.sampled_from(["id", "rawId", "type", "response", "clientDataJSON",
                          "attestationObject", "authenticatorData", "signature",
                          "userHandle", "clientExtensionResults"]) | st.from_regex(r"\A[a-zA-Z_]\w{0,8}\Z")
_json = st.recursive(
    st.text().map(nodes.String) | st.integers(-2**31, 2**31 - 1).map(nodes.Int)
    | st.booleans().map(nodes.Boolean) | st.just(nodes.Null),
    lambda inner: st.lists(inner, max_size=4).map(nodes.List)
    | st.dictionaries(_names, inner, max_size=6).map(_object),
    max_leaves=20,
)
schemathesis.graphql.scalar("JSON", _json)


@schemathesis.check
def no_internal_errors(ctx, response, case):
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}")
    body = response.json()
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code not in CLIENT_CODES:
            raise AssertionError(f"an error without a client code: {error}")
