import type { CodegenConfig } from "@graphql-codegen/cli";

// Typed documents for every operation in src/, generated from the schema the
// server prints (schema.graphql). `DateTime` and `Date` are RFC 3339 text
// (their @specifiedBy), so they are strings here; `JSON` is any JSON value. Each document carries its SHA-256
// id, and src/gql/persisted-documents.json lists them all: the manifest a
// production server is given as TASKQL_TRUSTED_DOCUMENTS, so that only this
// client's operations run there.
const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: ["src/**/*.ts", "!src/gql/**"],
  // Imports with `.js` extensions, as Node's ES modules need.
  emitLegacyCommonJSImports: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: { mode: "embedHashInDocument", hashAlgorithm: "sha256" },
      },
      config: {
        // JSON carries WebAuthn options and credentials, for the browser's
        // parse…FromJSON and toJSON.
        scalars: { DateTime: "string", Date: "string", JSON: "unknown" },
        strictScalars: true,
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
