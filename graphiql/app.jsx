// GraphiQL as taskql serves it: everything from this server, set up for it
// (queries at /graphql, subscriptions at /graphql/ws, an Authorization
// header ready, a short tour in the first tab). WORKERS is filled in by
// build.sh with the hashed names of the editor's workers.
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import { createRoot } from "react-dom/client";
import "graphiql/style.css";
import "./page.css";

globalThis.MonacoEnvironment = {
  getWorker(_id, label) {
    const name = WORKERS[label] ?? WORKERS.editor;
    return new Worker(new URL(name, import.meta.url), { type: "module" });
  },
};

const TOUR = `# Welcome to taskql. Run each operation with the ▶ button.
#
# 1. Sign up, then log in: copy the accessToken into the Headers tab
#    below as {"Authorization": "Bearer <accessToken>"}.
# 2. Ask who you are, create a task, list your tasks.
# 3. In a second tab, subscribe to taskEvents and watch changes arrive.

mutation Signup {
  signup(input: { email: "ada@example.com", password: "correct horse battery staple" }) { id email }
}

mutation Login {
  login(input: { email: "ada@example.com", password: "correct horse battery staple" }) {
    accessToken expiresIn refreshToken
  }
}

query Me { me { id email createdAt } }

mutation CreateTask {
  createTask(input: { title: "Try taskql", dueAt: "2030-01-01T09:00:00Z" }) { id title dueAt }
}

query Tasks {
  tasks(first: 10) { totalCount edges { cursor node { id title completed dueAt } } pageInfo { hasNextPage endCursor } }
}

subscription Live { taskEvents { kind taskId task { title completed } } }
`;

const fetcher = createGraphiQLFetcher({
  url: "/graphql",
  subscriptionUrl: `${location.origin.replace(/^http/, "ws")}/graphql/ws`,
});

createRoot(document.getElementById("graphiql")).render(
  <GraphiQL
    fetcher={fetcher}
    defaultQuery={TOUR}
    defaultHeaders={'{\n  "Authorization": "Bearer "\n}'}
    isHeadersEditorEnabled
    defaultEditorToolsVisibility="headers"
  />,
);
