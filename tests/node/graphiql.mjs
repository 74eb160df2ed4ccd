// GraphiQL in headless Chromium (Debian's), against a running server at
// TASKQL_URL: the page loads with no request leaving the server, a query
// typed into the editor runs and its answer appears, and a subscription
// authenticated by the Headers pane shows a change. SCREENSHOT names a file
// for a picture of the page.
import assert from "node:assert/strict";

import { fetchWithin, watchdog, within } from "./bounded.mjs";
import { launchChromium } from "./chromium.mjs";

// Playwright's own actions time out by themselves; the rest is bounded here.
watchdog(300_000);

const base = process.env.TASKQL_URL ?? "http://127.0.0.1:8000";

async function graphql(query, variables, token) {
  const response = await fetchWithin(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

async function login() {
  const i = { email: `graphiql-${Date.now()}@example.com`, password: "a passphrase nobody guesses" };
  await graphql("mutation($i: SignupInput!) { signup(input: $i) { id } }", { i });
  const data = await graphql("mutation($i: LoginInput!) { login(input: $i) { accessToken } }", { i });
  return data.login.accessToken;
}
const browser = await launchChromium();
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const requests = [];
  const problems = [];
  context.on("request", (request) => requests.push(request.url()));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(String(error)));

  await page.goto(`${base}/graphql`, { waitUntil: "load" });
  const editor = page.locator(".graphiql-query-editor .monaco-editor").first();
  await editor.waitFor({ timeout: 30_000 });
  await page.getByText("Welcome to taskql").waitFor({ timeout: 30_000 });
  await editor.click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  // Inserted as a paste would be: typing would trigger the editor's
  // auto-closing brackets.
  await page.keyboard.insertText("{ __typename }");
  // The tab is named after the operation once GraphiQL has read the new
  // text; run it only then, or the tour's operation name goes along.
  await page.locator(".graphiql-tab").getByText("<untitled>").waitFor({ timeout: 30_000 });
  await page.keyboard.press("ControlOrMeta+Enter");
  await page.locator(".graphiql-response").getByText('"Query"').waitFor({ timeout: 30_000 });

  // A subscription, authenticated by the Headers pane, shows a change made
  // elsewhere.
  const token = await login();
  await page.locator('.graphiql-editor-tools button:has-text("Headers")').click();
  await page.locator('.monaco-editor[data-uri$="headers.json"]').click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }));
  await editor.click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText("subscription Live { taskEvents { kind task { title } } }");
  await page.locator(".graphiql-tab").getByText("Live").waitFor({ timeout: 30_000 });
  await page.keyboard.press("ControlOrMeta+Enter");
  // Changes keep coming until one shows: the subscription starts when the
  // server has taken it, which the page does not tell.
  const shown = page.locator(".graphiql-response").getByText("Seen in GraphiQL");
  for (let attempt = 0; attempt < 60 && !(await shown.isVisible()); attempt++) {
    await graphql('mutation { createTask(input: { title: "Seen in GraphiQL" }) { id } }', {}, token);
    await page.waitForTimeout(250);
  }
  await shown.waitFor({ timeout: 10_000 });
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });

  const elsewhere = requests.filter((url) => !url.startsWith(base) && !url.startsWith("data:"));
  assert.deepEqual(elsewhere, [], "no request leaves the server");
  assert.deepEqual(problems, [], "no errors in the page (CSP included)");
  console.log(`ok - GraphiQL loads from the server alone (${requests.length} requests), runs a typed query and a subscription`);
} finally {
  await within(browser.close(), "closing the browser");
}
