// Subscription figures for bench.py: event delivery latency (mutation
// answered on one server -> event received on another, or the same), then
// the same with many idle subscribed connections open.
//
//   node events.mjs --write URL --listen URL --connections 10000 --events 300
//
// Prints one JSON object per line; after {"phase":"open"} it waits for a
// line on standard input (the caller reads the server's memory meanwhile).
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import WebSocket from "ws";

const { values: args } = parseArgs({
  options: {
    write: { type: "string" },
    listen: { type: "string" },
    connections: { type: "string", default: "10000" },
    events: { type: "string", default: "300" },
  },
});
const PASSWORD = "benchmarking is fun 2026";
const QUERY = "subscription { taskEvents { kind taskId task { id title } } }";

async function graphql(base, query, variables, token) {
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function register(base, email) {
  const i = { email, password: PASSWORD };
  await graphql(base, "mutation($i: SignupInput!) { signup(input: $i) { id } }", { i });
  const data = await graphql(base, "mutation($i: LoginInput!) { login(input: $i) { accessToken } }", { i });
  return data.login.accessToken;
}

/** A subscribed connection; resolves once a ping after the subscription is answered. */
function subscribe(base, token, onEvent) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${base.replace(/^http/, "ws")}/graphql/ws`, "graphql-transport-ws");
    socket.on("error", reject);
    socket.on("open", () =>
      socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } })),
    );
    socket.on("message", (data) => {
      const message = JSON.parse(data);
      if (message.type === "connection_ack") {
        socket.send(JSON.stringify({ type: "subscribe", id: "1", payload: { query: QUERY } }));
        socket.send(JSON.stringify({ type: "ping" }));
      } else if (message.type === "pong") {
        resolve(socket);
      } else if (message.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      } else if (message.type === "next") {
        onEvent?.(message.payload);
      }
    });
  });
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Delivery latency of `count` events, one at a time. */
async function latency(token, count) {
  let arrived;
  const socket = await subscribe(args.listen, token, () => arrived?.(performance.now()));
  const samples = [];
  for (let i = 0; i < count; i++) {
    const received = new Promise((resolve) => (arrived = resolve));
    await graphql(args.write, `mutation { createTask(input: { title: "Event ${i}" }) { id } }`, {}, token);
    const answered = performance.now();
    // Negative when the event came before the mutation's answer: counted as 0.
    samples.push(Math.max(0, (await received) - answered));
  }
  socket.close();
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

const measurer = await register(args.write, `events-${Date.now()}@example.com`);
console.log(JSON.stringify({ phase: "latency", ...(await latency(measurer, Number(args.events))) }));

// Many idle subscribers, spread over 100 users, opened 500 at a time.
const users = [];
for (let i = 0; i < 100; i++) users.push(await register(args.write, `idle-${i}-${Date.now()}@example.com`));
const sockets = [];
const total = Number(args.connections);
while (sockets.length < total) {
  const batch = Math.min(500, total - sockets.length);
  const opened = Array.from({ length: batch }, (_, i) => subscribe(args.listen, users[(sockets.length + i) % users.length]));
  sockets.push(...(await Promise.all(opened)));
}
console.log(JSON.stringify({ phase: "open", connections: sockets.length }));
await new Promise((resolve) => createInterface({ input: process.stdin }).once("line", resolve));
console.log(JSON.stringify({ phase: "loaded", ...(await latency(measurer, Number(args.events))) }));
for (const socket of sockets) socket.terminate();
process.exit(0);
