// The sign-in pane: sign up, sign in with a password (and the second step
// when the account asks for it) or a passkey, see who is signed in and
// until when, sign out; sign in with an identity provider (the browser
// goes there and comes back to this page). On the admin listener: sign in
// with a password and a code only. Every request GraphiQL sends then carries the
// session's token (see session.js and the fetcher in app.jsx).
import { useEffect, useState, useSyncExternalStore } from "react";

import * as auth from "./session.js";

export function SignInIcon() {
  return (
    <svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="currentColor" strokeWidth="1.5"
      aria-hidden="true">
      <circle cx="12" cy="8" r="4" />
      <path d="M4 21c0-4.4 3.6-7 8-7s8 2.6 8 7" />
    </svg>
  );
}

function useSession() {
  return useSyncExternalStore(auth.subscribe, auth.current);
}

export function SignInPane() {
  const session = useSession();
  return (
    <div className="taskql-signin">
      <div className="graphiql-doc-explorer-title">{session ? "Signed in" : "Sign in"}</div>
      {session ? <SignedIn session={session} /> : <SignInForm />}
    </div>
  );
}

function SignedIn({ session }) {
  const [, tick] = useState(0);
  const expires = new Date(session.expiresAt);
  return (
    <div data-testid="signed-in">
      <p>
        <strong data-testid="who">{session.email}</strong>
        <br />
        {session.displayName}
      </p>
      <p>
        Every request carries your token, valid until{" "}
        <time dateTime={expires.toISOString()} data-testid="expires">{expires.toLocaleTimeString()}</time> and
        renewed before then. An Authorization header typed in the Headers pane wins over it.
      </p>
      <div className="taskql-signin-actions">
        <button type="button" className="graphiql-button" onClick={() => auth.refresh().then(() => tick((n) => n + 1))}>
          Renew now
        </button>
        <button type="button" className="graphiql-button" onClick={() => auth.signOut()}>
          Sign out
        </button>
      </div>
    </div>
  );
}

function SignInForm() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [mfaToken, setMfaToken] = useState(null);
  const [code, setCode] = useState("");
  const [problem, setProblem] = useState("");
  const [busy, setBusy] = useState(false);
  const [providers, setProviders] = useState([]);

  // Back from an identity provider: finish its sign-in. Then list them.
  useEffect(() => {
    if (auth.ADMIN) return;
    attempt(() => auth.finishFromProvider());
    auth.providers().then(setProviders, () => setProviders([]));
  }, []);

  async function attempt(work) {
    setBusy(true);
    setProblem("");
    try {
      const result = await work();
      if (result?.mfaToken) setMfaToken(result.mfaToken);
    } catch (error) {
      setProblem(error.message);
    } finally {
      setBusy(false);
    }
  }

  if (mfaToken) {
    return (
      <form onSubmit={(event) => {
        event.preventDefault();
        attempt(() => auth.completeSignIn(mfaToken, code.trim()));
      }}>
        <p>Your account has a second factor: enter a code from your authenticator app, or a recovery code.</p>
        <label>
          Code
          <input name="code" autoComplete="one-time-code" inputMode="numeric" value={code}
            onChange={(event) => setCode(event.target.value)} />
        </label>
        <div className="taskql-signin-actions">
          <button type="submit" className="graphiql-button" disabled={busy}>Continue</button>
          <button type="button" className="graphiql-button" onClick={() => setMfaToken(null)}>Back</button>
        </div>
        {problem && <p role="alert" className="taskql-signin-problem">{problem}</p>}
      </form>
    );
  }

  return (
    <form onSubmit={(event) => {
      event.preventDefault();
      attempt(() => auth.signIn(email.trim(), password));
    }}>
      <label>
        Email
        <input name="email" type="email" autoComplete="username webauthn" value={email}
          onChange={(event) => setEmail(event.target.value)} />
      </label>
      <label>
        Password
        <input name="password" type="password" autoComplete="current-password" value={password}
          onChange={(event) => setPassword(event.target.value)} />
      </label>
      <div className="taskql-signin-actions">
        <button type="submit" className="graphiql-button" disabled={busy}>Sign in</button>
        {!auth.ADMIN && (
          <>
            {providers.map((provider) => (
              <button key={provider.id} type="button" className="graphiql-button" disabled={busy}
                onClick={() => attempt(() => auth.signInWith(provider.id))}>
                Sign in with {provider.displayName}
              </button>
            ))}
            <button type="button" className="graphiql-button" disabled={busy}
              onClick={() => attempt(() => auth.signUp(email.trim(), password))}>
              Sign up
            </button>
            <button type="button" className="graphiql-button" disabled={busy}
              onClick={() => attempt(() => auth.signInWithPasskey(email.trim()))}>
              Sign in with a passkey
            </button>
          </>
        )}
      </div>
      {problem && <p role="alert" className="taskql-signin-problem">{problem}</p>}
      {auth.ADMIN && (
        <p className="taskql-signin-note">
          The admin listener: an admin account with its authenticator code (a passkey signs in on
          the public API; paste that token in the Headers pane).
        </p>
      )}
      <p className="taskql-signin-note">
        Your session stays in this tab (sessionStorage) until you sign out or close it.
      </p>
    </form>
  );
}
