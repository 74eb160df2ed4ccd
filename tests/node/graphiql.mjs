// GraphiQL in headless Chromium (Debian's), against a running server at
// TASKQL_URL: the page loads with no request leaving the server, a query
// typed into the editor runs, and its answer appears. SCREENSHOT names a
// file for a picture of the page.
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const base = process.env.TASKQL_URL ?? "http://127.0.0.1:8000";
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // Anything not for this server goes to a proxy that is not there.
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
  ],
});
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
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });

  const elsewhere = requests.filter((url) => !url.startsWith(base) && !url.startsWith("data:"));
  assert.deepEqual(elsewhere, [], "no request leaves the server");
  assert.deepEqual(problems, [], "no errors in the page (CSP included)");
  console.log(`ok - GraphiQL loads from the server alone (${requests.length} requests) and runs a typed query`);
} finally {
  await browser.close();
}
