// GraphiQL as taskql serves it: everything from this server, set up for it
// (queries at /graphql, subscriptions at /graphql/ws, a sign-in pane whose
// session every request carries, a short tour in the first tab). WORKERS
// is filled in by build.sh with the hashed names of the editor's workers.
import { useGraphiQL } from "@graphiql/react";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import { useEffect, useRef } from "react";
import { createRoot } from "react-dom/client";
import { createClient } from "graphql-ws";
import "graphiql/style.css";
import "./page.css";

import { ADMIN, connectionParams, current, sessionFetch, typesOwnToken, withToken } from "./session.js";
import { SignInIcon, SignInPane } from "./signin.jsx";

globalThis.MonacoEnvironment = {
  getWorker(_id, label) {
    const name = WORKERS[label] ?? WORKERS.editor;
    return new Worker(new URL(name, import.meta.url), { type: "module" });
  },
};

const TOUR = `# Welcome to taskql. Run each operation with the ▶ button.
#
# 1. Sign up or sign in in the pane on the left (the person icon): every
#    request then carries your token, renewed before it expires.
# 2. Ask who you are, create a task, list your tasks.
# 3. In a second tab, subscribe to taskEvents and watch changes arrive.

query Me { me { id email createdAt } }

mutation CreateTask {
  createTask(input: { title: "Try taskql", dueAt: "2030-01-01T09:00:00Z" }) { id title dueAt }
}

query Tasks {
  tasks(first: 10) { totalCount edges { cursor node { id title completed dueAt } } pageInfo { hasNextPage endCursor } }
}

subscription Live { taskEvents { kind taskId task { title completed } } }
`;

const ADMIN_TOUR = `# The admin listener of taskql. Sign in in the pane on the left with an
# admin account (taskql admin grant <email>) and the code from its
# authenticator app: admin requests need a second factor from the last
# 15 minutes. Nothing here shows what a list or a task says.

query Stats { stats { users verifiedUsers disabledUsers lists tasks signupsLast7Days } }

query Users {
  users(search: "", first: 20) {
    edges { node { id email displayName disabled lastLoginAt lists tasks } }
    pageInfo { hasNextPage endCursor }
  }
}

query User($id: ID!) {
  user(id: $id) {
    email disabled disabledReason sessions { userAgent ip lastUsedAt }
    securityEvents(first: 10) { edges { node { kind at } } }
  }
}

mutation Disable($id: ID!) { disableUser(id: $id, reason: "why, for the audit log") { id disabled } }
`;

// Every request, and the connection_init of each subscription, carries
// the session's token unless the Headers pane has an Authorization header.
// The session's subscriptions share one connection that, when the server
// closes it as its token expires, opens again with the renewed one and
// resubscribes; one typed by hand gets a connection of its own.
const subscriptionUrl = `${location.origin.replace(/^http/, "ws")}/graphql/ws`;
const typed = createGraphiQLFetcher({ url: "/graphql", subscriptionUrl, fetch: sessionFetch });
const signedIn = createGraphiQLFetcher({
  url: "/graphql",
  fetch: sessionFetch,
  wsClient: createClient({
    url: subscriptionUrl,
    lazy: true,
    connectionParams,
    retryAttempts: 1_000,
    shouldRetry: () => current() !== null,
  }),
});
// The admin listener has no subscriptions.
const adminFetcher = createGraphiQLFetcher({ url: "/graphql", fetch: sessionFetch });
const fetcher = (params, options) => {
  const headers = withToken(options?.headers);
  if (ADMIN) return adminFetcher(params, { ...options, headers });
  const viaSession = current() !== null && !typesOwnToken(options?.headers);
  return (viaSession ? signedIn : typed)(params, { ...options, headers });
};

const signIn = { title: "Sign in", icon: SignInIcon, content: SignInPane };

/**
 * Opens the sign-in pane when nobody is signed in, as its sidebar button
 * does (GraphiQL sizes the pane in that button's handler).
 */
function OpenSignIn() {
  const ready = useGraphiQL((state) => state.plugins.includes(signIn));
  const opened = useRef(false);
  useEffect(() => {
    if (ready && !opened.current && !current()) {
      opened.current = true;
      document.querySelector(`.graphiql-sidebar button[aria-label="Show ${signIn.title}"]`)?.click();
    }
  }, [ready]);
  return ADMIN ? "taskql admin" : "taskql";
}

createRoot(document.getElementById("graphiql")).render(
  <GraphiQL
    fetcher={fetcher}
    defaultQuery={ADMIN ? ADMIN_TOUR : TOUR}
    plugins={[signIn]}
    isHeadersEditorEnabled
  >
    <GraphiQL.Logo>
      <OpenSignIn />
    </GraphiQL.Logo>
  </GraphiQL>,
);
