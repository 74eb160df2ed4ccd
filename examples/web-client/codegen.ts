import type { CodegenConfig } from "@graphql-codegen/cli";

// Typed documents for every operation in src/, generated from the schema the
// server prints (schema.graphql). `DateTime` is RFC 3339 text (its
// @specifiedBy), so it is a string here.
const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: ["src/**/*.ts", "!src/gql/**"],
  // Imports with `.js` extensions, as Node's ES modules need.
  emitLegacyCommonJSImports: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { DateTime: "string" },
        strictScalars: true,
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
