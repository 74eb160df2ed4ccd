// Checks taskql's subscriptions with the real `graphql-ws` client library,
// as a frontend would use it. Expects a running server at TASKQL_URL.
import assert from "node:assert/strict";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { check, fetchWithin, watchdog, within } from "./bounded.mjs";

watchdog(300_000);

const base = process.env.TASKQL_URL ?? "http://127.0.0.1:8000";
const wsUrl = `${base.replace(/^http/, "ws")}/graphql/ws`;
const EVENTS =
  "subscription { taskEvents { kind taskId task { id title completed dueAt updatedAt } } }";

async function graphql(query, variables = {}, token) {
  const response = await fetchWithin(`${base}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

async function register(email) {
  const input = { email, password: "a passphrase nobody guesses" };
  await graphql("mutation($i: SignupInput!) { signup(input: $i) { id } }", { i: input });
  const { login } = await graphql(
    "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
    { i: input },
  );
  return login.accessToken;
}

/** A client whose connection has answered a ping: everything sent before is running. */
function connect(token, onClosed) {
  let pong;
  const answered = new Promise((resolve) => (pong = resolve));
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: async () => ({ authorization: `Bearer ${token}` }),
    retryAttempts: 0,
    keepAlive: 100,
    on: { pong: () => pong(), closed: (event) => onClosed?.(event) },
  });
  return { client, answered };
}

await check("events of one's own tasks arrive, in order", async () => {
  const token = await register(`ada-${Date.now()}@example.com`);
  const { client, answered } = connect(token);
  const events = client.iterate({ query: EVENTS });
  const first = events.next();
  await within(answered, "the first pong");
  const { createTask } = await graphql(
    'mutation { createTask(input: { title: "Buy milk" }) { id } }',
    {},
    token,
  );
  const created = (await within(first, "the CREATED event")).value.data.taskEvents;
  assert.equal(created.kind, "CREATED");
  assert.equal(created.taskId, createTask.id);
  assert.equal(created.task.title, "Buy milk");
  await graphql(
    'mutation($id: ID!) { updateTask(id: $id, input: { completed: true }) { id } }',
    { id: createTask.id },
    token,
  );
  const updated = (await within(events.next(), "the UPDATED event")).value.data.taskEvents;
  assert.equal(updated.kind, "UPDATED");
  assert.equal(updated.task.completed, true);
  await graphql("mutation($id: ID!) { deleteTask(id: $id) }", { id: createTask.id }, token);
  const deleted = (await within(events.next(), "the DELETED event")).value.data.taskEvents;
  assert.deepEqual([deleted.kind, deleted.task], ["DELETED", null]);
  await within(events.return(), "the subscription's end");
  await within(client.dispose(), "the client's end");
});

await check("a bad token is refused with 4403, which the client treats as final", async () => {
  let closed;
  const code = new Promise((resolve) => (closed = resolve));
  const { client } = connect("not-a-token", (event) => closed(event.code));
  const events = client.iterate({ query: EVENTS });
  await assert.rejects(within(events.next(), "the refusal"));
  assert.equal(await within(code, "the close code"), 4403);
  await within(client.dispose(), "the client's end");
});

await check("a subscription refused before it starts reaches the error callback", async () => {
  const token = await register(`grace-${Date.now()}@example.com`);
  const deep = "subscription { taskEvents { task { a { b { c { d { e { f { g { h { i } } } } } } } } } } }";
  for (const [query, says] of [
    ["subscription { noSuchField }", "noSuchField"],
    [deep, "deep"],
  ]) {
    // A client of its own for each: a lazy client closes its socket once
    // its last subscription ends, and a subscription started meanwhile
    // would meet the close instead of the server's answer.
    const { client } = connect(token);
    const errors = await within(new Promise((resolve, reject) => {
      client.subscribe(
        { query },
        {
          next: (value) => reject(new Error(`next instead of error: ${JSON.stringify(value)}`)),
          error: resolve,
          complete: () => reject(new Error("complete instead of error")),
        },
      );
    }), `the error of ${query}`);
    assert.ok(Array.isArray(errors), `${query}: ${errors}`);
    assert.equal(errors[0].extensions.code, "BAD_USER_INPUT", JSON.stringify(errors));
    assert.ok(errors[0].message.includes(says), JSON.stringify(errors));
    await within(client.dispose(), "the client's end");
  }
});
