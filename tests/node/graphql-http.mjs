// The GraphQL-over-HTTP audits of the `graphql-http` package against a
// running server at TASKQL_URL: every audit must pass as ok.
import { serverAudits } from "graphql-http";

import { watchdog, within } from "./bounded.mjs";

watchdog(300_000);

const url = `${process.env.TASKQL_URL ?? "http://127.0.0.1:8000"}/graphql`;
let failed = 0;
for (const audit of serverAudits({ url })) {
  const result = await within(audit.fn(), audit.name);
  if (result.status === "ok") {
    console.log(`ok - ${audit.name}`);
  } else {
    failed += 1;
    console.log(`${result.status} - ${audit.name}: ${result.reason}`);
  }
}
console.log(`${failed === 0 ? "all audits ok" : `${failed} audits not ok`}`);
process.exit(failed === 0 ? 0 : 1);
