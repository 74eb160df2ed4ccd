// Passkeys in a real browser: Debian's Chromium with a CDP virtual
// authenticator (CTAP2, internal, resident keys, user verification), on a
// page of the server at http://localhost:<port> (GraphiQL's). The page
// signs up, registers a passkey with navigator.credentials.create, signs
// out, signs in with navigator.credentials.get alone (no email: the
// discoverable credential finds the account) and reads `me`. The options
// go through PublicKeyCredential.parseCreationOptionsFromJSON /
// parseRequestOptionsFromJSON and the credentials back through toJSON,
// nothing more. The server must allow the page's origin
// (TASKQL_WEBAUTHN_ORIGINS=http://localhost:<port>).
import assert from "node:assert/strict";

import { fetchWithin, watchdog, within } from "./bounded.mjs";
import { launchChromium } from "./chromium.mjs";

// Playwright's own actions time out by themselves; the rest is bounded here.
watchdog(300_000);

const base = (process.env.TASKQL_URL ?? "http://127.0.0.1:8000").replace("127.0.0.1", "localhost");

const browser = await launchChromium();
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(String(error)));
  await page.goto(`${base}/graphql`, { waitUntil: "load" });

  const cdp = await context.newCDPSession(page);
  await within(cdp.send("WebAuthn.enable"), "WebAuthn.enable");
  const { authenticatorId } = await within(cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  }), "WebAuthn.addVirtualAuthenticator");

  const email = `passkey-${Date.now()}@example.com`;
  const result = await within(page.evaluate(async (email) => {
    async function graphql(query, variables, token) {
      const response = await fetch("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
        body: JSON.stringify({ query, variables }),
      });
      const body = await response.json();
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    }
    const password = "a passphrase for the browser";
    await graphql("mutation($i: SignupInput!) { signup(input: $i) { id } }", { i: { email, password } });
    const { login } = await graphql(
      "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }",
      { i: { email, password } },
    );

    // Register: the options as the server gives them, parsed by the browser.
    const { startPasskeyRegistration: registration } = await graphql(
      "mutation { startPasskeyRegistration { challengeId options } }", {}, login.accessToken);
    const created = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(registration.options),
    });
    const { finishPasskeyRegistration: passkey } = await graphql(
      "mutation($i: FinishPasskeyRegistrationInput!) { finishPasskeyRegistration(input: $i) { id name } }",
      { i: { challengeId: registration.challengeId, credential: created.toJSON(), name: "This browser" } },
      login.accessToken,
    );

    // Sign out.
    await graphql("mutation($t: String!) { logout(refreshToken: $t) }", { t: login.refreshToken }, login.accessToken);

    // Sign in with the passkey alone.
    const { startPasskeyLogin: signIn } = await graphql(
      "mutation { startPasskeyLogin { challengeId options } }", {});
    const asserted = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(signIn.options),
    });
    const { finishPasskeyLogin: payload } = await graphql(
      "mutation($i: FinishPasskeyLoginInput!) { finishPasskeyLogin(input: $i) { accessToken user { email } } }",
      { i: { challengeId: signIn.challengeId, credential: asserted.toJSON() } },
    );
    const { me, twoFactor } = await graphql(
      "{ me { email } twoFactor { passkeys { name lastUsedAt } } }", {}, payload.accessToken);
    return { passkey, me, twoFactor };
  }, email), "the page's registration and sign-in");

  assert.equal(result.passkey.name, "This browser");
  assert.equal(result.me.email, email);
  assert.equal(result.twoFactor.passkeys.length, 1);
  assert.ok(result.twoFactor.passkeys[0].lastUsedAt, "the sign-in is recorded");
  const { credentials } = await within(
    cdp.send("WebAuthn.getCredentials", { authenticatorId }),
    "WebAuthn.getCredentials",
  );
  assert.equal(credentials.length, 1);
  assert.ok(credentials[0].isResidentCredential, "a discoverable credential");
  assert.ok(credentials[0].signCount >= 1, "signed once at least");
  assert.deepEqual(problems, []);
  console.log("ok - a passkey registered with navigator.credentials.create, then a sign-in with navigator.credentials.get alone, in Chromium");
} finally {
  await within(browser.close(), "closing the browser");
}
