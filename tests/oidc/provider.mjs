// A real OpenID provider for the tests: node-oidc-provider (OpenID
// Certified), on a free port of 127.0.0.1, with one confidential client and
// its development sign-in pages, which sign in any login: the login is the
// account's `sub`, and its claims are those a test last posted to
// `/test/accounts` (`{"sub":"ada","email":"ada@example.com",
// "email_verified":true}`). It prints its issuer as the first line of its
// output, then serves until killed.
//
// OIDC_REDIRECT_URIS: the client's redirect URIs, comma-separated.
// OIDC_CLIENT_ID, OIDC_CLIENT_SECRET: the client's credentials.
// OIDC_PORT: the port, when it must be a given one. Its signing key is
// drawn at start, so a provider started again has rotated its keys.
import { generateKeyPairSync } from "node:crypto";
import http from "node:http";

import Provider from "oidc-provider";

const redirectUris = (process.env.OIDC_REDIRECT_URIS ?? "http://app.test/callback").split(",");
const server = http.createServer();
await new Promise((resolve) => server.listen(Number(process.env.OIDC_PORT ?? 0), "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const latest = new Map();
// Keys of this process alone: a provider started again has rotated them.
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: "jwk" }), kid: `key-${Date.now()}`, use: "sig", alg: "RS256" };
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.OIDC_CLIENT_ID ?? "taskql",
      client_secret: process.env.OIDC_CLIENT_SECRET ?? "a-test-client-secret",
      redirect_uris: redirectUris,
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  // Every sign-in must carry a PKCE challenge (S256).
  pkce: { required: () => true },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  // A login is the sub; its claims are what the test last set for it.
  async findAccount(_ctx, sub) {
    return { accountId: sub, claims: async () => latest.get(sub) ?? { sub } };
  },
  // The claims go in the ID token itself, where the server reads them.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  jwks: { keys: [jwk] },
});
provider.proxy = false;
const callback = provider.callback();
// The tests say who an account is (`POST /test/accounts` with its claims)
// before signing in as it.
server.on("request", (request, response) => {
  if (request.method === "POST" && request.url === "/test/accounts") {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const claims = JSON.parse(body);
      latest.set(claims.sub, claims);
      response.writeHead(204).end();
    });
    return;
  }
  callback(request, response);
});
console.log(issuer);
