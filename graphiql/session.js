// The session GraphiQL's sign-in pane keeps for this tab: a client of the
// public API like any other (signup, login, completeLogin, the passkey
// sign-in, refreshToken, logout), with no route of its own. On the admin
// listener the same operations sign an admin in (it serves login,
// completeLogin, refreshToken and logout), and `me` is the admin's.
//
// The tokens live in sessionStorage: this tab alone, gone when it closes,
// kept across a reload; never in localStorage, which every tab of the
// origin shares and which outlives the browser session. The page runs no
// script but the server's own (its Content-Security-Policy), which is what
// keeps any storage of a page out of others' reach.

const KEY = "taskql.session";
const listeners = new Set();
let session = load();
let timer;
let refreshing = null;

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY)) ?? null;
  } catch {
    return null;
  }
}

/** The session now: `{ accessToken, refreshToken, issuedAt, expiresAt, email, displayName }` or null. */
export function current() {
  return session;
}

export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function keep(next) {
  session = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
  schedule();
  for (const listener of listeners) listener();
}

/** The answer of one operation, errors included. */
async function call(query, variables, token) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

/** The data of an answer, or an Error with its message and code. */
function data(answer) {
  const [error] = answer.errors ?? [];
  if (error) {
    const failure = new Error(error.message);
    failure.code = error.extensions?.code;
    failure.extensions = error.extensions ?? {};
    throw failure;
  }
  return answer.data;
}

const TOKENS = "accessToken refreshToken expiresIn";

/** Whether this page is the admin listener's GraphiQL. */
export const ADMIN = document.body.hasAttribute("data-taskql-admin");

/**
 * Keeps the tokens of an `AuthPayload`, with who they belong to. A session
 * the server will not serve (on the admin listener: not an admin, or no
 * second factor) is ended at once rather than kept.
 */
async function adopt(payload) {
  const answer = await call("{ me { email displayName } }", {}, payload.accessToken);
  if (answer.errors?.length) {
    await call("mutation($t: String!) { logout(refreshToken: $t) }", { t: payload.refreshToken });
  }
  const { me } = data(answer);
  const now = Date.now();
  keep({
    accessToken: payload.accessToken,
    refreshToken: payload.refreshToken,
    issuedAt: now,
    expiresAt: now + payload.expiresIn * 1000,
    email: me.email,
    displayName: me.displayName,
  });
}

/** Signs in; `{ mfaToken }` when the account asks for its second step. */
export async function signIn(email, password) {
  const answer = await call(`mutation($i: LoginInput!) { login(input: $i) { ${TOKENS} } }`, {
    i: { email, password },
  });
  const [error] = answer.errors ?? [];
  if (error?.extensions?.code === "MFA_REQUIRED") return { mfaToken: error.extensions.mfaToken };
  await adopt(data(answer).login);
  return {};
}

/** The identity providers this server signs people in with. */
export async function providers() {
  return data(await call("{ identityProviders { id displayName } }", {})).identityProviders;
}

const EXTERNAL = "taskql.external";
const FINISH_EXTERNAL = `mutation($i: FinishExternalLoginInput!) { finishExternalLogin(input: $i) { ${TOKENS} } }`;

/**
 * Sends the browser to `provider` to sign in; it comes back to this page
 * (which must be one of the server's TASKQL_OIDC_REDIRECT_URIS) with the
 * answer, for `finishFromProvider`.
 */
export async function signInWith(provider) {
  const redirectUri = `${location.origin}${location.pathname}`;
  const { startExternalLogin } = data(await call(
    "mutation($i: StartExternalLoginInput!) { startExternalLogin(input: $i) { authorizationUrl state } }",
    { i: { provider, redirectUri } },
  ));
  sessionStorage.setItem(EXTERNAL, startExternalLogin.state);
  location.assign(startExternalLogin.authorizationUrl);
}

/**
 * On the page a provider sent the browser back to: finishes that sign-in
 * (`{ mfaToken }` when the account asks for its second step). Null when
 * the page was not opened by a provider.
 */
export async function finishFromProvider() {
  const params = new URLSearchParams(location.search);
  const state = params.get("state");
  if (!state || (!params.has("code") && !params.has("error"))) return null;
  history.replaceState(null, "", location.pathname);
  const started = sessionStorage.getItem(EXTERNAL);
  sessionStorage.removeItem(EXTERNAL);
  if (state !== started) throw new Error("this answer is not for a sign-in started in this tab");
  if (params.has("error")) throw new Error("the provider did not sign you in");
  const answer = await call(FINISH_EXTERNAL, {
    i: { state, code: params.get("code"), iss: params.get("iss") },
  });
  const [error] = answer.errors ?? [];
  if (error?.extensions?.code === "MFA_REQUIRED") return { mfaToken: error.extensions.mfaToken };
  await adopt(data(answer).finishExternalLogin);
  return {};
}

export async function signUp(email, password) {
  data(await call("mutation($i: SignupInput!) { signup(input: $i) { id } }", { i: { email, password } }));
  return signIn(email, password);
}

/** The second step: a current TOTP code or a recovery code. */
export async function completeSignIn(mfaToken, code) {
  const answer = await call(`mutation($i: CompleteLoginInput!) { completeLogin(input: $i) { ${TOKENS} } }`, {
    i: { mfaToken, code },
  });
  await adopt(data(answer).completeLogin);
}

/** Signs in with a passkey of `email`'s account, or any discoverable one. */
export async function signInWithPasskey(email) {
  const { startPasskeyLogin: start } = data(
    await call("mutation($e: String) { startPasskeyLogin(email: $e) { challengeId options } }", {
      e: email || null,
    }),
  );
  const credential = await navigator.credentials.get({
    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(start.options.publicKey ?? start.options),
  });
  const answer = await call(
    `mutation($i: FinishPasskeyLoginInput!) { finishPasskeyLogin(input: $i) { ${TOKENS} } }`,
    { i: { challengeId: start.challengeId, credential: credential.toJSON() } },
  );
  await adopt(data(answer).finishPasskeyLogin);
}

/** Ends the session on the server (its refresh token) and here. */
export async function signOut() {
  const ending = session;
  keep(null);
  if (ending) {
    await call("mutation($t: String!) { logout(refreshToken: $t) }", { t: ending.refreshToken }, ending.accessToken);
  }
}

/**
 * A new access token from the refresh token (rotated, as the API does);
 * one at a time. Whether the session goes on.
 */
export function refresh() {
  if (!session) return Promise.resolve(false);
  refreshing ??= (async () => {
    const old = session;
    try {
      const answer = await call(
        `mutation($t: String!) { refreshToken(refreshToken: $t) { ${TOKENS} } }`,
        { t: old.refreshToken },
      );
      const { refreshToken: payload } = data(answer);
      const now = Date.now();
      keep({
        ...old,
        accessToken: payload.accessToken,
        refreshToken: payload.refreshToken,
        issuedAt: now,
        expiresAt: now + payload.expiresIn * 1000,
      });
      return true;
    } catch {
      // Revoked, reused or expired: the session is over.
      if (session === old) keep(null);
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** The session's token for a subscription's `connection_init`. */
export function connectionParams() {
  return session ? { Authorization: `Bearer ${session.accessToken}` } : {};
}

/** Renews the access token a little before it expires. */
function schedule() {
  clearTimeout(timer);
  if (!session) return;
  const lifetime = session.expiresAt - session.issuedAt;
  const lead = Math.min(30_000, lifetime / 4);
  timer = setTimeout(refresh, Math.max(0, session.expiresAt - lead - Date.now()));
}
schedule();

function authorization(headers) {
  const key = Object.keys(headers ?? {}).find((name) => name.toLowerCase() === "authorization");
  return key === undefined ? undefined : { key, value: String(headers[key]) };
}

/** Whether the person typed an Authorization header of their own. */
export function typesOwnToken(headers) {
  const typed = authorization(headers);
  return Boolean(typed && typed.value.replace(/^Bearer\s*/i, "").trim() !== "");
}

/**
 * `headers` (the Headers pane's) with the session's token added, unless
 * the person typed an Authorization header of their own, which wins.
 */
export function withToken(headers) {
  if (typesOwnToken(headers)) return headers;
  const typed = authorization(headers);
  const rest = { ...headers };
  if (typed) delete rest[typed.key];
  return session ? { ...rest, Authorization: `Bearer ${session.accessToken}` } : rest;
}

/**
 * `fetch` for GraphiQL's requests: when the session's token was refused
 * (`UNAUTHENTICATED`: expired early, or the computer slept), renews it
 * once and sends the request again.
 */
export async function sessionFetch(input, init = {}) {
  const response = await fetch(input, init);
  const sent = authorization(init.headers);
  if (!session || !sent || sent.value !== `Bearer ${session.accessToken}`) return response;
  const body = await response.clone().json().catch(() => null);
  if (!body?.errors?.some((error) => error.extensions?.code === "UNAUTHENTICATED")) return response;
  if (!(await refresh())) return response;
  return fetch(input, { ...init, headers: { ...init.headers, [sent.key]: `Bearer ${session.accessToken}` } });
}
