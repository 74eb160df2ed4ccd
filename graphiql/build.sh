#!/usr/bin/env bash
# Builds the GraphiQL that taskql serves from its binary, from the versions
# pinned in package-lock.json (npm registry), into src/graphql/assets/:
# content-hashed files, the page, the Rust table that embeds them, and
# MANIFEST.md with every bundled package's version and license and each
# file's SHA-256. Run it by hand after changing a version; commit the result.
# A normal `cargo build` never touches the network.
set -euo pipefail
cd "$(dirname "$0")"
out=../src/graphql/assets
npm ci --no-audit --no-fund --loglevel=error
rm -rf "$out" build && mkdir -p "$out" build
esbuild=node_modules/.bin/esbuild
common=(--bundle --format=esm --minify --legal-comments=none --define:process.env.NODE_ENV='"production"')

# The editor's workers first: the page needs their hashed names.
"$esbuild" "${common[@]}" --entry-names='[name]-[hash]' --outdir=build/workers \
    node_modules/monaco-editor/esm/vs/editor/editor.worker.js \
    node_modules/monaco-editor/esm/vs/language/json/json.worker.js \
    node_modules/monaco-graphql/esm/graphql.worker.js
workers=$(cd build/workers && node -e '
  const names = require("fs").readdirSync(".");
  const find = (prefix) => "./" + names.find((n) => n.startsWith(prefix + "-"));
  console.log(JSON.stringify({ editor: find("editor.worker"), json: find("json.worker"), graphql: find("graphql.worker") }));')
"$esbuild" "${common[@]}" app.jsx --jsx=automatic --entry-names='graphiql-[hash]' \
    --asset-names='[name]-[hash]' --loader:.ttf=file --define:WORKERS="$workers" --outdir=build
cp build/workers/* build/graphiql-* build/*.ttf "$out"/

js=$(cd "$out" && ls graphiql-*.js)
css=$(cd "$out" && ls graphiql-*.css)
cat > "$out/index.html" <<HTML
<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>taskql · GraphiQL</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="/graphql/assets/$css" />
  </head>
  <body>
    <div id="graphiql">Loading…</div>
    <script type="module" src="/graphql/assets/$js"></script>
  </body>
</html>
HTML

node - "$out" <<'NODE'
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const out = process.argv[2];
const files = fs.readdirSync(out).filter((name) => !/\.(md|rs|html)$/.test(name)).sort();
const types = { ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".ttf": "font/ttf" };
const rust = [
  "//! The files of GraphiQL as built by graphiql/build.sh; do not edit.",
  "",
  "/// The page, and every file it loads, by name.",
  'pub const PAGE: &str = include_str!("index.html");',
  "",
  "pub const FILES: &[(&str, &str, &[u8])] = &[",
  ...files.map((name) => `    ("${name}", "${types[path.extname(name)]}", include_bytes!("${name}")),`),
  "];",
  "",
];
fs.writeFileSync(path.join(out, "files.rs"), rust.join("\n"));
const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
const packages = Object.entries(lock.packages)
  .filter(([name, info]) => name.startsWith("node_modules/") && !info.dev)
  .map(([name, info]) => `| ${name.replace(/^.*node_modules\//, "")} | ${info.version} | ${info.license ?? "see its package"} |`)
  .sort();
const digests = files.concat(["index.html"]).map((name) => {
  const digest = crypto.createHash("sha256").update(fs.readFileSync(path.join(out, name))).digest("hex");
  return `| ${name} | ${fs.statSync(path.join(out, name)).size} | ${digest} |`;
});
fs.writeFileSync(path.join(out, "MANIFEST.md"), [
  "# GraphiQL assets",
  "",
  "Built by `graphiql/build.sh` from the npm registry, bundled with esbuild; served at `/graphql/assets/`.",
  "",
  "| package | version | license |", "|---|---|---|", ...packages, "",
  "| file | bytes | SHA-256 |", "|---|---|---|", ...digests, "",
].join("\n"));
NODE
rm -rf build
rustfmt --edition 2024 "$out/files.rs"
echo "GraphiQL written to $out"
