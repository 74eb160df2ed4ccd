// Drives a running taskql (TASKQL_URL) the way a task-list page does, with
// the typed operations: signup, login, tasks created, paged with cursors,
// filtered, changed and deleted, a token refreshed, live events, and the
// account's sessions listed and ended, and a second factor set up with a
// common authenticator library (otpauth) and a two-step login.
import assert from "node:assert/strict";

import type { SubscribePayload } from "graphql-ws";

import { GraphqlError, TaskqlClient, named } from "./client.js";
import type {
  SyncQuery,
  TaskEventsSubscription,
  TasksQuery,
  TasksQueryVariables,
} from "./gql/graphql.js";
import * as OTPAuth from "otpauth";

import { readFile } from "node:fs/promises";

import {
  AcceptInvitation,
  AddComment,
  ListInOrder,
  MoveTask,
  ConfirmTotpSetup,
  CreateList,
  CreateTask,
  InviteToList,
  Lists,
  VerifyEmail,
  DeleteTask,
  Login,
  Me,
  RevokeOtherSessions,
  RevokeSession,
  Sessions,
  Signup,
  StartTotpSetup,
  Sync,
  TaskEvents,
  Tasks,
  TwoFactor,
  UpdateTask,
  UpdateTaskAt,
} from "./operations.js";

const client = new TaskqlClient(process.env.TASKQL_URL ?? "http://127.0.0.1:8000");

/** Settles as `promise` does, or rejects naming `what` after `ms`. */
function within<T>(promise: Promise<T>, what: string, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** One named check, bounded in time: a hang fails it. */
async function check(name: string, body: () => Promise<void>): Promise<void> {
  await within(body(), name, 120_000);
  console.log(`ok - ${name}`);
}

const email = `web-${Date.now()}@example.com`;
const password = "a passphrase nobody guesses";

await check("signup and login", async () => {
  const { signup } = await client.run(Signup, { input: { email, password } });
  assert.equal(signup.email, email);
  const { login } = await client.run(Login, { input: { email, password } });
  client.tokens = { accessToken: login.accessToken, refreshToken: login.refreshToken };
  const { me } = await client.run(Me, {});
  assert.equal(me.id, login.user.id);
});

const ids: string[] = [];
await check("tasks created, paged with cursors and filtered", async () => {
  for (let day = 1; day <= 25; day++) {
    const dueAt = `2026-12-${String(day).padStart(2, "0")}T09:00:00Z`;
    const { createTask } = await client.run(CreateTask, { input: { title: `Task ${day}`, dueAt } });
    ids.push(createTask.id);
  }
  const seen: string[] = [];
  let after: string | null | undefined = undefined;
  for (;;) {
    const variables: TasksQueryVariables = {
      first: 10,
      after,
      orderBy: { field: "DUE_AT", direction: "ASC" },
    };
    const { tasks }: TasksQuery = await client.run(Tasks, variables);
    seen.push(...tasks.edges.map((edge) => edge.node.title));
    if (!tasks.pageInfo.hasNextPage) break;
    after = tasks.pageInfo.endCursor;
  }
  assert.deepEqual(seen, ids.map((_, i) => `Task ${i + 1}`));
  const { tasks: open } = await client.run(Tasks, { filter: { completed: false }, first: 1 });
  assert.equal(open.totalCount, 25);
});

await check("a task changed and deleted", async () => {
  const [first] = ids;
  assert.ok(first);
  const { updateTask } = await client.run(UpdateTask, { id: first, input: { completed: true, dueAt: null } });
  assert.deepEqual([updateTask.completed, updateTask.dueAt], [true, null]);
  const { deleteTask } = await client.run(DeleteTask, { id: first });
  assert.equal(deleteTask, first);
});

await check("an expired access token is renewed with the refresh token", async () => {
  const before = client.tokens;
  assert.ok(before);
  client.tokens = { ...before, accessToken: "expired-or-otherwise-invalid" };
  const { me } = await client.run(Me, {});
  assert.equal(me.email, email);
  assert.notEqual(client.tokens.refreshToken, before.refreshToken, "rotated");
});

await check("live events over graphql-ws", async () => {
  let pong: () => void = () => {};
  const answered = new Promise<void>((resolve) => (pong = resolve));
  const live = client.subscriptions();
  live.on("pong", () => pong());
  // graphql-ws asks for a query string and sends the rest as it is: an
  // empty query and the documentId, for the server's trusted documents.
  const payload: SubscribePayload = { query: "", ...named(TaskEvents) };
  const events = live.iterate<TaskEventsSubscription>(payload);
  const next = events.next();
  await within(answered, "the first pong");
  const { createTask } = await client.run(CreateTask, { input: { title: "Seen live" } });
  const event = (await within(next, "the CREATED event")).value;
  assert.equal(event?.data?.taskEvents.kind, "CREATED");
  assert.equal(event?.data?.taskEvents.task?.id, createTask.id);
  await within(Promise.resolve(events.return?.()), "the subscription's end");
  await within(Promise.resolve(live.dispose()), "the client's end");
});

await check("sessions listed, one ended, then all the others", async () => {
  const elsewhere = new TaskqlClient(process.env.TASKQL_URL ?? "http://127.0.0.1:8000");
  for (let i = 0; i < 2; i++) {
    const { login } = await elsewhere.run(Login, { input: { email, password } });
    elsewhere.tokens = { accessToken: login.accessToken, refreshToken: login.refreshToken };
  }
  const { sessions } = await client.run(Sessions, {});
  assert.equal(sessions.length, 3);
  assert.equal(sessions.filter((session) => session.current).length, 1);
  const other = sessions.find((session) => !session.current);
  assert.ok(other);
  const { revokeSession } = await client.run(RevokeSession, { id: other.id });
  assert.equal(revokeSession, true);
  const { revokeOtherSessions } = await client.run(RevokeOtherSessions, {});
  assert.equal(revokeOtherSessions, 1);
  const { sessions: left } = await client.run(Sessions, {});
  assert.deepEqual(left.map((session) => session.current), [true]);
});

/**
 * The token of the newest mail to `to` about `subject` in the development
 * server's JSON log (`TASKQL_SERVER_LOG`), where a server without an SMTP
 * server writes its mail: what a person would copy from their inbox.
 */
async function mailedToken(log: string, to: string, subject: string): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const lines = (await readFile(log, "utf8")).split("\n").filter((line) => line.startsWith("{"));
    const mail = lines
      .map((line) => JSON.parse(line) as { to?: string; subject?: string; message?: string })
      .filter((line) => line.to === to && line.subject === subject)
      .pop();
    const token = mail?.message?.split(/[^A-Za-z0-9_-]/).find((word) => word.length === 43);
    if (token) return token;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no mail ${subject} to ${to} in ${log}`);
}

const serverLog = process.env.TASKQL_SERVER_LOG;
if (serverLog) {
  await check("a list shared: invited by mail, the second person adds a task the first one sees", async () => {
    const { createList: list } = await client.run(CreateList, { input: { name: "Household" } });
    assert.equal(list.role, "OWNER");
    const friendEmail = `friend-${Date.now()}@example.com`;
    const friend = new TaskqlClient(process.env.TASKQL_URL ?? "http://127.0.0.1:8000");
    await friend.run(Signup, { input: { email: friendEmail, password } });
    await friend.logIn(friendEmail, password, async () => {
      throw new Error("no second factor here");
    });
    const verification = await mailedToken(serverLog, friendEmail, "Confirm your taskql address");
    const { verifyEmail } = await friend.run(VerifyEmail, { token: verification });
    assert.equal(verifyEmail, true);

    const { inviteToList } = await client.run(InviteToList, {
      input: { listId: list.id, email: friendEmail, role: "EDITOR" },
    });
    assert.equal(inviteToList.listName, "Household");
    const token = await mailedToken(serverLog, friendEmail, "You are invited to a taskql list");
    const { acceptInvitation } = await friend.run(AcceptInvitation, { input: { token } });
    assert.deepEqual([acceptInvitation.id, acceptInvitation.role], [list.id, "EDITOR"]);
    const { createTask: added } = await friend.run(CreateTask, {
      input: { title: "Added by a friend", listId: list.id },
    });

    const { lists } = await client.run(Lists, {});
    const shared = lists.find((found) => found.id === list.id);
    assert.ok(shared, "the list is there");
    assert.deepEqual(
      shared.members.map((member) => member.role),
      ["OWNER", "EDITOR"],
    );
    assert.deepEqual(
      shared.tasks.edges.map((edge) => [edge.node.title, edge.node.createdBy?.displayName]),
      [["Added by a friend", friendEmail.split("@")[0]]],
    );

    // Structure: a subtask, a move the server places, a comment.
    const { createTask: second } = await client.run(CreateTask, {
      input: { title: "Second", listId: list.id },
    });
    const { createTask: subtask } = await friend.run(CreateTask, {
      input: { title: "A step", parentId: added.id },
    });
    const { moveTask } = await friend.run(MoveTask, { input: { id: second.id, before: added.id } });
    assert.equal(moveTask.id, second.id);
    const { addComment } = await client.run(AddComment, {
      input: { taskId: subtask.id, body: "Done by Friday?" },
    });
    assert.equal(addComment.author?.displayName, email.split("@")[0]);
    assert.equal(addComment.body, "Done by Friday?");
    const { list: ordered } = await friend.run(ListInOrder, { id: list.id });
    const top = ordered?.tasks.edges.map((edge) => edge.node) ?? [];
    assert.deepEqual(
      top.map((node) => node.title),
      ["Second", "Added by a friend"],
    );
    const [first, last] = top;
    assert.ok(first && last && first.position < last.position, "positions sort by byte");
    const step = last?.subtasks.edges[0]?.node;
    assert.equal(step?.title, "A step");
    assert.equal(step?.commentCount, 1);
  });
}

/** An offline copy of what the person sees, kept by `changes` alone. */
class Copy {
  cursor: string | null = null;
  lists = new Map<string, SyncQuery["changes"]["lists"][number]>();
  tasks = new Map<string, SyncQuery["changes"]["tasks"][number]>();

  /** Asks until nothing more waits; applies removals, then lists and tasks. */
  async sync(from: TaskqlClient): Promise<SyncQuery["changes"][]> {
    const answers = [];
    for (;;) {
      const { changes } = await from.run(Sync, { since: this.cursor, first: 10 });
      for (const id of changes.removedListIds) {
        this.lists.delete(id);
        for (const [task, kept] of this.tasks) if (kept.list.id === id) this.tasks.delete(task);
      }
      for (const id of changes.removedTaskIds) this.tasks.delete(id);
      for (const list of changes.lists) this.lists.set(list.id, list);
      for (const task of changes.tasks) this.tasks.set(task.id, task);
      this.cursor = changes.cursor;
      answers.push(changes);
      if (!changes.hasMore) return answers;
    }
  }
}

await check("an offline copy synced, changed offline, replayed twice, synced again", async () => {
  const copy = new Copy();
  const first = await copy.sync(client);
  assert.ok(first.length > 1, "paged");
  const { tasks: all } = await client.run(Tasks, { first: 1 });
  assert.equal(copy.tasks.size, all.totalCount);

  // Made offline: a task with the app's own id, a change against the
  // version the copy holds; another one deleted meanwhile elsewhere.
  const made = crypto.randomUUID();
  const [changed, gone] = [...copy.tasks.values()].filter((task) => !task.completed);
  assert.ok(changed && gone);
  for (let round = 0; round < 2; round++) {
    const { createTask } = await client.run(CreateTask, { input: { id: made, title: "Made offline" } });
    assert.equal(createTask.id, made);
  }
  const { updateTask: updated } = await client.run(UpdateTaskAt, {
    id: changed.id,
    input: { title: "Changed offline", expectedVersion: changed.version },
  });
  assert.equal(updated.version, changed.version + 1);
  await assert.rejects(
    client.run(UpdateTaskAt, { id: changed.id, input: { title: "Stale", expectedVersion: changed.version } }),
    (error: GraphqlError) => error.code === "CONFLICT" && error.extensions.version === changed.version + 1,
  );
  await client.run(DeleteTask, { id: gone.id });

  const [second] = await copy.sync(client);
  assert.ok(second);
  assert.deepEqual(second.removedTaskIds, [gone.id]);
  assert.equal(copy.tasks.get(made)?.title, "Made offline");
  assert.equal(copy.tasks.get(changed.id)?.title, "Changed offline");
  assert.ok(!copy.tasks.has(gone.id));
  const { tasks: now } = await client.run(Tasks, { first: 1 });
  assert.equal(copy.tasks.size, now.totalCount);
});

await check("a second factor from the otpauth URI, then a two-step login", async () => {
  const { startTotpSetup } = await client.run(StartTotpSetup, {});
  assert.ok(startTotpSetup.qrCodeSvg.includes("<svg"));
  // What an authenticator app does with the QR code's URI.
  const app = OTPAuth.URI.parse(startTotpSetup.otpauthUri);
  assert.ok(app instanceof OTPAuth.TOTP);
  assert.equal(app.issuer, "taskql");
  assert.equal(app.label, email);
  assert.equal(app.secret.base32, startTotpSetup.secret);
  // The step before the current one: the current one stays for the login.
  // Not in the last 5 s of a step, so that both stay good meanwhile.
  while (Date.now() % 30_000 > 25_000) await new Promise((resolve) => setTimeout(resolve, 500));
  const now = Date.now();
  const earlier = app.generate({ timestamp: now - 30_000 });
  const { confirmTotpSetup: codes } = await client.run(ConfirmTotpSetup, { code: earlier });
  assert.equal(codes.length, 10);
  const { twoFactor } = await client.run(TwoFactor, {});
  assert.deepEqual([twoFactor.totp, twoFactor.recoveryCodesLeft], [true, 10]);

  const fresh = new TaskqlClient(process.env.TASKQL_URL ?? "http://127.0.0.1:8000");
  let asked = false;
  await fresh.logIn(email, password, async () => {
    asked = true;
    return app.generate({ timestamp: now });
  });
  assert.ok(asked, "the second step was asked for");
  const { me } = await fresh.run(Me, {});
  assert.equal(me.email, email);
});
