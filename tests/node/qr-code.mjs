// The TOTP setup's QR code, as a person's phone would see it: the SVG the
// server answers is drawn by headless Chromium (Debian's), photographed,
// and decoded by a QR reader (jsQR); it must hold the otpauthUri. Expects
// a running server at TASKQL_URL.
import assert from "node:assert/strict";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { chromium } from "playwright-core";

import { fetchWithin, watchdog, within } from "./bounded.mjs";

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

const i = { email: `qr-${Date.now()}@example.com`, password: "a passphrase nobody guesses" };
await graphql("mutation($i: SignupInput!) { signup(input: $i) { id } }", { i });
const { login } = await graphql("mutation($i: LoginInput!) { login(input: $i) { accessToken } }", { i });
const { startTotpSetup } = await graphql(
  "mutation { startTotpSetup { otpauthUri qrCodeSvg } }",
  {},
  login.accessToken,
);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 400, height: 400 } });
  await page.setContent(
    `<body style="margin:0;background:#fff">${startTotpSetup.qrCodeSvg.replace(/^<\?xml[^>]*>/, "")}</body>`,
  );
  const shot = PNG.sync.read(await page.screenshot());
  const decoded = jsQR(new Uint8ClampedArray(shot.data), shot.width, shot.height);
  assert.ok(decoded, "the picture holds a QR code");
  assert.equal(decoded.data, startTotpSetup.otpauthUri);
  console.log("ok - the TOTP setup's QR code decodes to its otpauthUri");
} finally {
  await within(browser.close(), "closing the browser");
}
