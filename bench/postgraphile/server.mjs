// PostGraphile v5 over taskql's tables, for bench/bench.py
// --only-postgraphile: the viewer is the subject of taskql's own access
// token (HS256, verified with the same secret, issuer and audience), and
// row-level security (rls.sql, applied by the bench) shows it what taskql's
// visibility rule would. Run with `node --import ./shim.mjs server.mjs`
// (PostGraphile 5 asks for Node.js 22; the shim gives Node.js 20 what it
// uses of it).
//
// DATABASE_URL: the benchmark's database (its owner connects; each
// request runs as the role taskql_postgraphile). TASKQL_JWT_SECRET: the
// server's key. PORT: where to listen.
import { createServer } from "node:http";

import jwt from "jsonwebtoken";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const secret = process.env.TASKQL_JWT_SECRET;
const port = Number(process.env.PORT ?? 5678);

const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["public"], poolConfig: { max: 10 } }),
  ],
  grafast: {
    explain: false,
    context(requestContext) {
      const header = requestContext.node?.req?.headers?.authorization ?? "";
      const token = header.replace(/^Bearer\s+/i, "");
      const claims = jwt.verify(token, secret, { algorithms: ["HS256"], audience: "taskql", issuer: "taskql" });
      return { pgSettings: { role: "taskql_postgraphile", "jwt.claims.sub": claims.sub } };
    },
  },
  grafserv: { graphiql: false, watch: false },
};

const serv = postgraphile(preset).createServ(grafserv);
const server = createServer();
server.once("listening", () => console.log(`listening on ${port}`));
await serv.addTo(server);
server.listen(port, "127.0.0.1");
