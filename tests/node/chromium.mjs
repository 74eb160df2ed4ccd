// Debian's Chromium, headless, for the browser checks: nothing it asks of
// another host leaves the machine (such requests go to a proxy that is not
// there), and the server under test is reached directly by 127.0.0.1 or
// localhost (the name passkeys need).
import { chromium } from "playwright-core";

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--proxy-server=127.0.0.1:9",
      "--proxy-bypass-list=127.0.0.1;localhost",
    ],
  });
}
