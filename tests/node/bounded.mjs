// Time limits for the client checks: no await may hang a CI run. Each
// check's body, each wait on a socket or a page that has no limit of its
// own, and each request has one; a watchdog ends the whole script past its
// limit, naming the step it was in.

/** Settles as `promise` does, or rejects naming `what` after `ms`. */
export function within(promise, what, ms = 30_000) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** `fetch` that gives up after `ms`. */
export function fetchWithin(url, init = {}, ms = 30_000) {
  return fetch(url, { ...init, signal: AbortSignal.timeout(ms) });
}

let step = "starting";

/** Runs one named check within `ms`, and says so when it passed. */
export async function check(name, body, ms = 120_000) {
  step = name;
  await within(body(), name, ms);
  console.log(`ok - ${name}`);
}

/** Ends the script with a failure if it is still running after `ms`. */
export function watchdog(ms) {
  setTimeout(() => {
    console.error(`not ok - still running after ${ms} ms, in: ${step}`);
    process.exit(1);
  }, ms).unref();
}
