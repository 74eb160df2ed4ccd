// GraphiQL's sign-in pane in headless Chromium (Debian's), against a
// running server at TASKQL_URL: sign up and sign in through the pane, then
// `{ me { email } }` and a subscription with the Headers pane empty; the
// second step with a TOTP code computed here; a passkey through the CDP
// virtual authenticator; sign out. Against TASKQL_SHORT_TTL_URL (a server
// whose access tokens live seconds), a session outlives several tokens
// without an error. The page's Content-Security-Policy holds throughout (no
// error in the page, no request to another host). SCREENSHOT names a file
// for a picture of the pane signed in. With TASKQL_ADMIN_URL (the same
// server's admin listener), TASKQL_BINARY and TASKQL_DATABASE_URL (to run
// `taskql admin grant`), the admin listener's GraphiQL: an admin signs in
// with a password and a code and reads the figures; an account that is not
// an admin is told so and keeps no session (ADMIN_SCREENSHOT: a picture).
// With TASKQL_OIDC_ISSUER (the test OpenID provider, tests/oidc, that the
// server at TASKQL_URL signs in with as "Acme"): "Sign in with Acme" sends
// the browser to the provider's pages and back, signed in
// (PROVIDER_SCREENSHOT: a picture).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";

import { check, fetchWithin, watchdog, within } from "./bounded.mjs";
import { launchChromium } from "./chromium.mjs";

watchdog(600_000);

const base = process.env.TASKQL_URL ?? "http://127.0.0.1:8000";
const shortLived = process.env.TASKQL_SHORT_TTL_URL;
const adminUrl = process.env.TASKQL_ADMIN_URL;
const password = "a passphrase nobody guesses";

async function graphql(url, query, variables, token) {
  const response = await fetchWithin(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

async function account(url, prefix) {
  const i = { email: `${prefix}-${Date.now()}@example.com`, password };
  await graphql(url, "mutation($i: SignupInput!) { signup(input: $i) { id } }", { i });
  const { login } = await graphql(url, "mutation($i: LoginInput!) { login(input: $i) { accessToken } }", { i });
  return { email: i.email, token: login.accessToken };
}

/** RFC 6238's code of `secret` (base32) at `time`, as an authenticator app computes it. */
function totp(secret, time = Date.now()) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of secret.replace(/=+$/, "")) bits += alphabet.indexOf(char).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / 30_000)));
  const digest = createHmac("sha1", key).update(counter).digest();
  const offset = digest[digest.length - 1] & 0xf;
  return String((digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

const browser = await launchChromium();

/** A fresh GraphiQL page at `url`, watched for problems and other hosts. */
async function open(url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const watched = { requests: [], problems: [], page, context };
  context.on("request", (request) => watched.requests.push(request.url()));
  page.on("console", (message) => {
    if (message.type() === "error") watched.problems.push(message.text());
  });
  page.on("pageerror", (error) => watched.problems.push(String(error)));
  await page.goto(`${url}/graphql`, { waitUntil: "load" });
  await page.locator(".graphiql-query-editor .monaco-editor").first().waitFor({ timeout: 30_000 });
  // The pane opens by itself before anyone signed in.
  await page.locator(".taskql-signin").waitFor({ timeout: 30_000 });
  return watched;
}

function clean({ requests, problems }, url) {
  const origin = new URL(url).origin;
  const elsewhere = requests.filter((request) => !request.startsWith(origin) && !request.startsWith("data:"));
  assert.deepEqual(elsewhere, [], "no request leaves the server");
  assert.deepEqual(problems, [], "no errors in the page (CSP included)");
}

async function fill(page, email, secret) {
  await page.locator('.taskql-signin input[name="email"]').fill(email);
  await page.locator('.taskql-signin input[name="password"]').fill(secret);
}

async function signedIn(page, email) {
  await page.locator('.taskql-signin [data-testid="who"]').getByText(email).waitFor({ timeout: 30_000 });
}

/** Replaces the operation and runs it. */
async function run(page, text, tabName) {
  const editor = page.locator(".graphiql-query-editor .monaco-editor").first();
  await editor.click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(text);
  await page.locator(".graphiql-tab").getByText(tabName).waitFor({ timeout: 30_000 });
  await page.keyboard.press("ControlOrMeta+Enter");
}

try {
  await check("sign up in the pane, then me and a live event with the Headers pane empty", async () => {
    const watched = await open(base);
    const { page } = watched;
    const email = `pane-${Date.now()}@example.com`;
    await fill(page, email, password);
    await page.getByRole("button", { name: "Sign up" }).click();
    await signedIn(page, email);
    const stored = await page.evaluate(() => ({
      session: sessionStorage.getItem("taskql.session"),
      local: JSON.stringify(localStorage),
    }));
    assert.ok(stored.session?.includes("refreshToken"), "kept in sessionStorage");
    assert.ok(!stored.local.includes(JSON.parse(stored.session).accessToken), "never in localStorage");

    await page.locator('.graphiql-editor-tools button:has-text("Headers")').click();
    const headers = await page.locator('.monaco-editor[data-uri$="headers.json"]').innerText();
    assert.ok(!headers.includes("Bearer"), `the Headers pane is empty: ${headers}`);
    await run(page, "query Who { me { email } }", "Who");
    await page.locator(".graphiql-response").getByText(email).waitFor({ timeout: 30_000 });

    // The same person elsewhere (another client) makes a task.
    const { login } = await graphql(base, "mutation($i: LoginInput!) { login(input: $i) { accessToken } }", {
      i: { email, password },
    });
    await run(page, "subscription Live { taskEvents { kind task { title } } }", "Live");
    const shown = page.locator(".graphiql-response").getByText("Made elsewhere");
    for (let attempt = 0; attempt < 60 && !(await shown.isVisible()); attempt++) {
      await graphql(base, 'mutation { createTask(input: { title: "Made elsewhere" }) { id } }', {}, login.accessToken);
      await page.waitForTimeout(250);
    }
    await shown.waitFor({ timeout: 10_000 });
    await page.locator(".graphiql-execute-button").click(); // stops it
    clean(watched, base);
    await watched.context.close();
  });

  await check("a password sign-in that asks for the second step, with a TOTP code", async () => {
    const { email, token } = await account(base, "pane-totp");
    const { startTotpSetup } = await graphql(base, "mutation { startTotpSetup { secret } }", {}, token);
    await graphql(base, "mutation($c: String!) { confirmTotpSetup(code: $c) }", { c: totp(startTotpSetup.secret, Date.now() - 30_000) }, token);
    const watched = await open(base);
    const { page } = watched;
    await fill(page, email, password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    const code = page.locator('.taskql-signin input[name="code"]');
    await code.waitFor({ timeout: 30_000 });
    await code.fill(totp(startTotpSetup.secret));
    await page.getByRole("button", { name: "Continue" }).click();
    await signedIn(page, email);
    clean(watched, base);
    await watched.context.close();
  });

  await check("a passkey sign-in through the CDP virtual authenticator, then sign out", async () => {
    const { email, token } = await account(base, "pane-passkey");
    const watched = await open(base.replace("127.0.0.1", "localhost"));
    const { page, context } = watched;
    const cdp = await context.newCDPSession(page);
    await within(cdp.send("WebAuthn.enable"), "WebAuthn.enable");
    await within(cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    }), "WebAuthn.addVirtualAuthenticator");
    // A passkey registered the way an account page would.
    await within(page.evaluate(async (token) => {
      async function call(query, variables) {
        const response = await fetch("/graphql", {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify({ query, variables }),
        });
        return (await response.json()).data;
      }
      const { startPasskeyRegistration: start } = await call("mutation { startPasskeyRegistration { challengeId options } }");
      const created = await navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(start.options),
      });
      await call("mutation($i: FinishPasskeyRegistrationInput!) { finishPasskeyRegistration(input: $i) { id } }", {
        i: { challengeId: start.challengeId, credential: created.toJSON(), name: "This browser" },
      });
    }, token), "registering a passkey");
    await page.getByRole("button", { name: "Sign in with a passkey" }).click();
    await signedIn(page, email);
    if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.locator('.taskql-signin input[name="email"]').waitFor({ timeout: 30_000 });
    assert.equal(await page.evaluate(() => sessionStorage.getItem("taskql.session")), null);
    clean(watched, base.replace("127.0.0.1", "localhost"));
    await watched.context.close();
  });

  if (process.env.TASKQL_OIDC_ISSUER) {
    await check("sign in with an identity provider: to its pages and back to GraphiQL, signed in", async () => {
      const issuer = process.env.TASKQL_OIDC_ISSUER;
      const sub = `chromium-${Date.now()}`;
      const email = `${sub}@example.com`;
      await fetchWithin(`${issuer}/test/accounts`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sub, email, email_verified: true }),
      });
      const { page, context, problems } = await open(base);
      await page.getByRole("button", { name: "Sign in with Acme" }).click();
      // The provider's own sign-in and consent pages.
      await page.locator('input[name="login"]').waitFor({ timeout: 30_000 });
      assert.ok(page.url().startsWith(issuer), page.url());
      await page.locator('input[name="login"]').fill(sub);
      await page.locator('input[name="password"]').fill("anything");
      await page.locator('button[type="submit"]').click();
      await page.getByRole("button", { name: "Continue" }).click();
      await signedIn(page, email);
      // The provider's pages asked for fonts elsewhere; GraphiQL's must not.
      problems.length = 0;
      assert.equal(new URL(page.url()).search, "", "the answer is taken off the address");
      if (process.env.PROVIDER_SCREENSHOT) await page.screenshot({ path: process.env.PROVIDER_SCREENSHOT });
      await run(page, "query Who { me { email } }", "Who");
      await page.locator(".graphiql-response").getByText(email).waitFor({ timeout: 30_000 });
      assert.deepEqual(problems, [], "no errors in GraphiQL once back");
      await context.close();
    });
  }

  if (adminUrl) {
    await check("the admin listener's GraphiQL signs an admin in with a code; a non-admin is told so", async () => {
      const { email, token } = await account(base, "pane-admin");
      const { startTotpSetup } = await graphql(base, "mutation { startTotpSetup { secret } }", {}, token);
      await graphql(base, "mutation($c: String!) { confirmTotpSetup(code: $c) }",
        { c: totp(startTotpSetup.secret, Date.now() - 30_000) }, token);
      execFileSync(process.env.TASKQL_BINARY, ["admin", "grant", email], {
        env: { TASKQL_DATABASE_URL: process.env.TASKQL_DATABASE_URL, TASKQL_LOG: "warn" },
      });
      const watched = await open(adminUrl);
      const { page } = watched;
      assert.equal(await page.getByRole("button", { name: "Sign up" }).count(), 0, "no sign-up here");
      await fill(page, email, password);
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      const code = page.locator('.taskql-signin input[name="code"]');
      await code.waitFor({ timeout: 30_000 });
      await code.fill(totp(startTotpSetup.secret));
      await page.getByRole("button", { name: "Continue" }).click();
      await signedIn(page, email);
      await run(page, "query Figures { stats { users signupsLast7Days } }", "Figures");
      await page.locator(".graphiql-response").getByText("signupsLast7Days").waitFor({ timeout: 30_000 });
      const response = await page.locator(".graphiql-response").innerText();
      assert.ok(!response.includes("FORBIDDEN"), response);
      if (process.env.ADMIN_SCREENSHOT) await page.screenshot({ path: process.env.ADMIN_SCREENSHOT });
      clean(watched, adminUrl);
      await watched.context.close();

      const other = await account(base, "pane-not-admin");
      const refused = await open(adminUrl);
      await fill(refused.page, other.email, password);
      await refused.page.getByRole("button", { name: "Sign in", exact: true }).click();
      await refused.page.locator(".taskql-signin [role=alert]").getByText("not an admin").waitFor({ timeout: 30_000 });
      assert.equal(await refused.page.evaluate(() => sessionStorage.getItem("taskql.session")), null);
      clean(refused, adminUrl);
      await refused.context.close();
    });
  }

  if (shortLived) {
    await check("a session, and a subscription, outlive short-lived access tokens without an error", async () => {
      const { email } = await account(shortLived, "pane-ttl");
      const watched = await open(shortLived);
      const { page } = watched;
      await fill(page, email, password);
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await signedIn(page, email);
      const first = await page.evaluate(() => JSON.parse(sessionStorage.getItem("taskql.session")));
      for (let round = 0; round < 3; round++) {
        // Past the token's lifetime each time.
        await page.waitForTimeout((first.expiresAt - first.issuedAt) + 1_000);
        await run(page, `query Still${round} { me { email } }`, `Still${round}`);
        await page.locator(".graphiql-response").getByText(email).waitFor({ timeout: 30_000 });
        const response = await page.locator(".graphiql-response").innerText();
        assert.ok(!response.includes("UNAUTHENTICATED"), response);
      }
      const last = await page.evaluate(() => JSON.parse(sessionStorage.getItem("taskql.session")));
      assert.notEqual(last.refreshToken, first.refreshToken, "rotated");

      // A subscription outlives the token it started with: the server
      // closes its connection as the token expires, and it opens again with
      // the renewed one.
      await run(page, "subscription Outlives { taskEvents { kind task { title } } }", "Outlives");
      await page.waitForTimeout((first.expiresAt - first.issuedAt) * 2);
      const { login } = await graphql(shortLived, "mutation($i: LoginInput!) { login(input: $i) { accessToken } }", {
        i: { email, password },
      });
      const shown = page.locator(".graphiql-response").getByText("After the token");
      for (let attempt = 0; attempt < 40 && !(await shown.isVisible()); attempt++) {
        await graphql(shortLived, 'mutation { createTask(input: { title: "After the token" }) { id } }', {},
          login.accessToken);
        await page.waitForTimeout(250);
      }
      await shown.waitFor({ timeout: 10_000 });
      const response = await page.locator(".graphiql-response").innerText();
      assert.ok(!response.includes("Socket closed"), response);
      clean(watched, shortLived);
      await watched.context.close();
    });
  }
} finally {
  await within(browser.close(), "closing the browser");
}
