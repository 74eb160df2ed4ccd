// A small typed client: queries and mutations over fetch, subscriptions over
// graphql-ws, with the access token renewed by the refresh token when the
// server says it expired.
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { type DocumentNode, print } from "graphql";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

import { CompleteLogin, Login, Refresh } from "./operations.js";

/**
 * How a request names its operation: by the id codegen gave the document
 * (a trusted document of the server's manifest), or, for a document without
 * one, by its text.
 */
export function named(document: DocumentNode): { documentId: string } | { query: string } {
  const hash = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
  return hash ? { documentId: hash } : { query: print(document) };
}

export class GraphqlError extends Error {
  constructor(
    readonly code: string | undefined,
    message: string,
    /** The error's `extensions`, such as the `mfaToken` of `MFA_REQUIRED`. */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

export class TaskqlClient {
  tokens?: Tokens;

  constructor(readonly baseUrl: string) {}

  /** Runs a query or mutation; on UNAUTHENTICATED, refreshes once and retries. */
  async run<R, V>(document: TypedDocumentNode<R, V>, variables: NoInfer<V>): Promise<R> {
    try {
      return await this.send(document, variables);
    } catch (error) {
      if (!(error instanceof GraphqlError) || error.code !== "UNAUTHENTICATED" || !this.tokens) {
        throw error;
      }
      await this.refresh();
      return await this.send(document, variables);
    }
  }

  /**
   * Logs in; for an account with a second factor, asks `code` for one and
   * finishes with `completeLogin`.
   */
  async logIn(email: string, password: string, code: () => Promise<string>): Promise<void> {
    try {
      const { login } = await this.send(Login, { input: { email, password } }, false);
      this.tokens = { accessToken: login.accessToken, refreshToken: login.refreshToken };
    } catch (error) {
      if (!(error instanceof GraphqlError) || error.code !== "MFA_REQUIRED") throw error;
      const mfaToken = String(error.extensions.mfaToken);
      const input = { mfaToken, code: await code() };
      const { completeLogin } = await this.send(CompleteLogin, { input }, false);
      this.tokens = { accessToken: completeLogin.accessToken, refreshToken: completeLogin.refreshToken };
    }
  }

  /** Exchanges the refresh token for a new pair (the old one stops working). */
  async refresh(): Promise<void> {
    const refreshToken = this.tokens?.refreshToken ?? "";
    const { refreshToken: pair } = await this.send(Refresh, { refreshToken }, false);
    this.tokens = { accessToken: pair.accessToken, refreshToken: pair.refreshToken };
  }

  /** A graphql-ws client that sends the current access token on every connection. */
  subscriptions(): Client {
    return createClient({
      url: `${this.baseUrl.replace(/^http/, "ws")}/graphql/ws`,
      webSocketImpl: WebSocket,
      connectionParams: () => ({ authorization: `Bearer ${this.tokens?.accessToken ?? ""}` }),
      keepAlive: 100,
    });
  }

  private async send<R, V>(
    document: TypedDocumentNode<R, V>,
    variables: NoInfer<V>,
    withToken = true,
  ): Promise<R> {
    const token = withToken ? this.tokens?.accessToken : undefined;
    const response = await fetch(`${this.baseUrl}/graphql`, {
      // A request that hangs fails instead of holding the page forever.
      signal: AbortSignal.timeout(30_000),
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/graphql-response+json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ ...named(document), variables }),
    });
    const body = (await response.json()) as {
      data?: R | null;
      errors?: { message: string; extensions?: { code?: string } & Record<string, unknown> }[];
    };
    const first = body.errors?.[0];
    if (first) throw new GraphqlError(first.extensions?.code, first.message, first.extensions);
    if (!body.data) throw new GraphqlError(undefined, `no data (HTTP ${response.status})`);
    return body.data;
  }
}
